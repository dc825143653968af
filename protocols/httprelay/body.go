package httprelay

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"unicode/utf8"
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

// EncodeBody is how facts hold a body in JSON: as text when it is UTF-8,
// else in base64.
func EncodeBody(b []byte) (text, b64 string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return "", base64.StdEncoding.EncodeToString(b)
}
