package httpbody

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/taxieta/taxieta/internal/apierr"
)

// errReader returns some bytes and then a failure, as a connection reset
// mid-body does.
type errReader struct{ sent bool }

func (e *errReader) Read(p []byte) (int, error) {
	if e.sent {
		return 0, errors.New("connection reset")
	}
	e.sent = true
	return copy(p, "{\"a\""), nil
}

func TestRead(t *testing.T) {
	tests := []struct {
		name     string
		body     io.Reader
		declared int64 // -1: unknown length (chunked)
		limit    int64
		want     string
		kind     apierr.Kind
	}{
		{"fits", strings.NewReader("hello"), 5, 5, "hello", apierr.Unknown},
		{"chunked fits", strings.NewReader("hello"), -1, 5, "hello", apierr.Unknown},
		{"empty", strings.NewReader(""), 0, 5, "", apierr.Unknown},
		{"declared over", strings.NewReader("hello!"), 6, 5, "", apierr.TooLarge},
		{"chunked over", strings.NewReader("hello!"), -1, 5, "", apierr.TooLarge},
		{"declared less than sent", strings.NewReader("hello world"), 3, 5, "", apierr.TooLarge},
		{"cut short", &errReader{}, -1, 100, "", apierr.Malformed},
		{"large", bytes.NewReader(bytes.Repeat([]byte("x"), 100_000)), -1, 1 << 20, strings.Repeat("x", 100_000), apierr.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", tt.body)
			r.ContentLength = tt.declared
			got, err := Read(r, make([]byte, 7, 16), tt.limit)
			if tt.kind != apierr.Unknown {
				if apierr.KindOf(err) != tt.kind {
					t.Fatalf("err = %v (kind %v), want kind %v", err, apierr.KindOf(err), tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %d bytes %.20q, want %d bytes", len(got), got, len(tt.want))
			}
		})
	}
}

func TestReadReusesTheBuffer(t *testing.T) {
	buf := make([]byte, 0, 64)
	r := httptest.NewRequest("POST", "/", strings.NewReader("hello"))
	got, err := Read(r, buf, 64)
	if err != nil {
		t.Fatal(err)
	}
	if &got[:1][0] != &buf[:1][0] {
		t.Fatal("Read allocated although the buffer was large enough")
	}
}
