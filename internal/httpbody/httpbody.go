// Package httpbody reads request bodies under a size limit into a buffer
// the caller reuses, for every protocol taxieta serves over HTTP (its own
// API, MLflow's scoring protocol, the Open Inference Protocol), so that the
// limit is enforced, and worded, the same way everywhere.
package httpbody

import (
	"fmt"
	"io"
	"net/http"

	"github.com/taxieta/taxieta/internal/apierr"
)

// Read appends r's body to b[:0] and returns it. A body over limit bytes,
// declared or read, is an apierr.TooLarge error; a body cut short is
// apierr.Malformed. The returned slice is b grown as needed, also on error,
// so that the caller can put it back in its pool.
//
// A body of declared length is read to that length and no further: asking
// for the end of the body as well would make net/http start its background
// read of the connection while the handler is still running, a system call
// and a goroutine hand-off per request that a handler which stops at the
// declared length never pays.
func Read(r *http.Request, b []byte, limit int64) ([]byte, error) {
	b = b[:0]
	if r.ContentLength > limit {
		return b, apierr.New(apierr.TooLarge, fmt.Sprintf("body of %d bytes is over the limit of %d", r.ContentLength, limit))
	}
	if r.ContentLength >= 0 {
		n := int(r.ContentLength)
		if cap(b) < n {
			b = make([]byte, n)
		}
		b = b[:n]
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return b[:0], apierr.Wrap(apierr.Malformed, err, fmt.Sprintf("reading the body failed: %v (Content-Length is %d)", err, n))
		}
		return b, nil
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return b, apierr.New(apierr.TooLarge, fmt.Sprintf("body is over the limit of %d bytes", limit))
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, apierr.Wrap(apierr.Malformed, err, "reading the body failed: "+err.Error())
		}
	}
}
