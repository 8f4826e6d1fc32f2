// Package apierr is the one vocabulary of request errors that every
// protocol taxieta speaks maps to its own codes: the REST API to HTTP
// statuses and problem+json, the Open Inference Protocol to HTTP statuses
// and {"error": "..."} (REST) or gRPC status codes, MLflow's scoring
// protocol to its error codes.
//
// Handlers say what went wrong (a Kind, the field at fault and a message
// for the client) and leave how it is written to the protocol's one
// mapping function. The package imports nothing of taxieta, so any layer
// may use it.
package apierr

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

// Kind is what went wrong, in terms every protocol can answer.
type Kind uint8

// The kinds. The zero Kind, Unknown, says nothing: the kind of the error
// it wraps applies.
const (
	// Unknown leaves the kind to the wrapped error; with none, Internal applies.
	Unknown Kind = iota
	// Internal is a fault of the server, not of the request.
	Internal
	// Malformed is a request that cannot be parsed: bad JSON, a body cut short.
	Malformed
	// Invalid is a well-formed request that breaks a rule: a zone id out
	// of range, a missing field.
	Invalid
	// NotFound is a path, model or version that does not exist (or a
	// feature that is off).
	NotFound
	// MethodNotAllowed is a known path asked with the wrong method.
	MethodNotAllowed
	// Unauthorized is a missing or wrong credential.
	Unauthorized
	// Forbidden is a valid credential that does not allow the action.
	Forbidden
	// Conflict is an action the server's state does not allow, such as
	// reloading a model that follows no registry reference.
	Conflict
	// TooLarge is a body or batch over its limit.
	TooLarge
	// UnsupportedMediaType is a body in a content type the route does not read.
	UnsupportedMediaType
	// Unavailable is a dependency or state that makes the server unable
	// to answer now (no model loaded, registry down); retrying later may work.
	Unavailable
	// Upstream is an answer from a dependency that was refused, such as
	// a model version that fails its checks.
	Upstream
	// Canceled is a request the client gave up on.
	Canceled
	// Timeout is a request that ran out of time.
	Timeout
	numKinds
)

var kindNames = [numKinds]string{
	Unknown: "unknown", Internal: "internal", Malformed: "malformed", Invalid: "invalid",
	NotFound: "not found", MethodNotAllowed: "method not allowed", Unauthorized: "unauthorized",
	Forbidden: "forbidden", Conflict: "conflict", TooLarge: "too large",
	UnsupportedMediaType: "unsupported media type", Unavailable: "unavailable", Upstream: "upstream",
	Canceled: "canceled", Timeout: "timeout",
}

// String names the kind, e.g. "not found".
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Kinds lists every kind but Unknown, for tests that must cover them all.
func Kinds() []Kind {
	out := make([]Kind, 0, numKinds-1)
	for k := Unknown + 1; k < numKinds; k++ {
		out = append(out, k)
	}
	return out
}

// HTTPStatus is the kind's HTTP status code, the same for every protocol
// over HTTP (taxieta's REST API, OIP REST, MLflow's /invocations).
func (k Kind) HTTPStatus() int {
	switch k {
	case Malformed:
		return http.StatusBadRequest
	case Invalid:
		return http.StatusUnprocessableEntity
	case NotFound:
		return http.StatusNotFound
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case Conflict:
		return http.StatusConflict
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case UnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case Unavailable:
		return http.StatusServiceUnavailable
	case Upstream:
		return http.StatusBadGateway
	case Canceled:
		return 499 // nginx's "client closed request"; the client is gone and rarely sees it
	case Timeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// GRPCCode is the kind's gRPC status code, as the number that
// google.golang.org/grpc/codes gives it (this package does not import
// gRPC): convert with codes.Code(k.GRPCCode()).
func (k Kind) GRPCCode() uint32 {
	switch k {
	case Malformed, Invalid, UnsupportedMediaType:
		return 3 // InvalidArgument
	case NotFound:
		return 5 // NotFound
	case MethodNotAllowed:
		return 12 // Unimplemented
	case Unauthorized:
		return 16 // Unauthenticated
	case Forbidden:
		return 7 // PermissionDenied
	case Conflict:
		return 9 // FailedPrecondition
	case TooLarge:
		return 8 // ResourceExhausted
	case Unavailable, Upstream:
		return 14 // Unavailable
	case Canceled:
		return 1 // Canceled
	case Timeout:
		return 4 // DeadlineExceeded
	}
	return 13 // Internal
}

// Error is a request error: its kind, the field at fault and a message for
// the client, over the cause.
type Error struct {
	// Kind is what went wrong; Unknown takes the kind of Err.
	Kind Kind
	// Field names the input at fault when there is one: "model_version",
	// "body.PULocationID".
	Field string
	// Msg is the message for the client; empty means Err's text.
	Msg string
	// Err is the cause, kept for errors.Is and errors.As and for logs.
	Err error
}

// New returns an error of kind k with message msg.
func New(k Kind, msg string) *Error { return &Error{Kind: k, Msg: msg} }

// Wrap returns an error of kind k with message msg over cause err.
func Wrap(k Kind, err error, msg string) *Error { return &Error{Kind: k, Msg: msg, Err: err} }

// Explain gives err a message for the client and keeps err's kind.
func Explain(err error, msg string) *Error { return &Error{Msg: msg, Err: err} }

// Error is the message for the client.
func (e *Error) Error() string {
	switch {
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Kind.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the first Error in err's chain that states
// one; Unknown when none does, so that the caller may classify its domain
// errors (see httpapi's errorKind), and Canceled or Timeout for the
// context's errors.
func KindOf(err error) Kind {
	for e := err; e != nil; {
		var ae *Error
		if !errors.As(e, &ae) {
			break
		}
		if ae.Kind != Unknown {
			return ae.Kind
		}
		e = ae.Err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	}
	return Unknown
}

// Message is the message for the client: that of the first Error in err's
// chain, else err's text.
func Message(err error) string {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Error()
	}
	return err.Error()
}

// FieldOf is the field at fault: that of the first Error in err's chain
// that names one.
func FieldOf(err error) string {
	for e := err; e != nil; {
		var ae *Error
		if !errors.As(e, &ae) {
			break
		}
		if ae.Field != "" {
			return ae.Field
		}
		e = ae.Err
	}
	return ""
}
