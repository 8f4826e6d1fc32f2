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
func Read(r *http.Request, b []byte, limit int64) ([]byte, error) {
	b = b[:0]
	if r.ContentLength > limit {
		return b, apierr.New(apierr.TooLarge, fmt.Sprintf("body of %d bytes is over the limit of %d", r.ContentLength, limit))
	}
	// One byte more than declared, so that io.EOF comes without a regrow.
	if want := r.ContentLength + 1; r.ContentLength >= 0 && int64(cap(b)) < want {
		b = make([]byte, 0, want)
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
