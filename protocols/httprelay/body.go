package httprelay

import (
	"bytes"
	"io"
	"net/http"
)

// ReadPrefix reads up to limit+1 bytes of body, so that the caller can
// tell whether there is more.
func ReadPrefix(body io.Reader, limit int64) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return nil, nil
	}
	return io.ReadAll(io.LimitReader(body, limit+1))
}

// Rejoin puts a prefix read with ReadPrefix back in front of the rest of
// r's body, so the upstream receives the body byte for byte.
func Rejoin(r *http.Request, prefix []byte) {
	if len(prefix) == 0 {
		return
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(prefix), r.Body), r.Body}
}
