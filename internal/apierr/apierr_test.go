package apierr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// TestCodes pins each kind's HTTP status and gRPC code (the numbers of
// google.golang.org/grpc/codes), so that a kind added without its codes,
// or a code changed by accident, fails here.
func TestCodes(t *testing.T) {
	want := map[Kind]struct {
		http int
		grpc uint32
	}{
		Internal:             {500, 13},
		Malformed:            {400, 3},
		Invalid:              {422, 3},
		NotFound:             {404, 5},
		MethodNotAllowed:     {405, 12},
		Unauthorized:         {401, 16},
		Forbidden:            {403, 7},
		Conflict:             {409, 9},
		TooLarge:             {413, 8},
		UnsupportedMediaType: {415, 3},
		Unavailable:          {503, 14},
		Upstream:             {502, 14},
		Canceled:             {499, 1},
		Timeout:              {504, 4},
	}
	kinds := Kinds()
	if len(kinds) != len(want) {
		t.Errorf("%d kinds; the table here has %d", len(kinds), len(want))
	}
	for _, k := range kinds {
		w, ok := want[k]
		if !ok {
			t.Errorf("kind %v has no row here", k)
			continue
		}
		if got := k.HTTPStatus(); got != w.http {
			t.Errorf("%v.HTTPStatus() = %d; want %d", k, got, w.http)
		}
		if got := k.GRPCCode(); got != w.grpc {
			t.Errorf("%v.GRPCCode() = %d; want %d", k, got, w.grpc)
		}
		if k.String() == "" || k.String() == Unknown.String() {
			t.Errorf("kind %d has no name", k)
		}
	}
	if Unknown.HTTPStatus() != http.StatusInternalServerError || Kind(200).String() != "kind(200)" {
		t.Error("an unknown kind must answer as an internal error and name its number")
	}
}

var errDomain = errors.New("domain")

func TestKindOfMessageField(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		kind  Kind
		msg   string
		field string
	}{
		{"plain error", errDomain, Unknown, "domain", ""},
		{"new", New(NotFound, "no such thing"), NotFound, "no such thing", ""},
		{"wrapped by fmt", fmt.Errorf("ctx: %w", New(Conflict, "busy")), Conflict, "busy", ""},
		{"explain keeps the cause's kind", Explain(Wrap(Unavailable, errDomain, "down"), "try later"), Unavailable, "try later", ""},
		{"explain over a domain error", Explain(errDomain, "said nicely"), Unknown, "said nicely", ""},
		{"outer kind wins", Wrap(Upstream, New(Unavailable, "down"), "refused"), Upstream, "refused", ""},
		{"no message: the cause's text", Wrap(Invalid, errDomain, ""), Invalid, "domain", ""},
		{"no message, no cause: the kind", New(Timeout, ""), Timeout, "timeout", ""},
		{"field", &Error{Kind: Invalid, Field: "model_version", Msg: "bad"}, Invalid, "bad", "model_version"},
		{"field under an explanation", Explain(&Error{Kind: Invalid, Field: "body.PULocationID"}, "out of range"), Invalid, "out of range", "body.PULocationID"},
		{"canceled", fmt.Errorf("load: %w", context.Canceled), Canceled, "load: context canceled", ""},
		{"deadline", Explain(context.DeadlineExceeded, "too slow"), Timeout, "too slow", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf = %v; want %v", got, tt.kind)
			}
			if got := Message(tt.err); got != tt.msg {
				t.Errorf("Message = %q; want %q", got, tt.msg)
			}
			if got := FieldOf(tt.err); got != tt.field {
				t.Errorf("FieldOf = %q; want %q", got, tt.field)
			}
		})
	}
	if KindOf(nil) != Unknown {
		t.Error("KindOf(nil) must be Unknown")
	}
	if !errors.Is(Explain(errDomain, "x"), errDomain) {
		t.Error("an Error must unwrap to its cause")
	}
}
