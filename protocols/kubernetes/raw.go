package kubernetes

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/wardproject/ward/protocols/httprelay"
)

// Raw is a Kubernetes request as recorded for replay by `ward test`: the
// endpoint, the request line and the headers the decoder reads (never
// Authorization).
type Raw struct {
	Endpoint      string              `json:"endpoint"`
	Method        string              `json:"method"`
	Target        string              `json:"target"`
	Headers       map[string][]string `json:"headers,omitempty"`
	Body          string              `json:"body,omitempty"`
	BodyBase64    string              `json:"body_base64,omitempty"`
	BodyTruncated bool                `json:"body_truncated,omitempty"`
}

// decodedHeader reports whether Decode reads the header name.
func decodedHeader(name string) bool {
	switch name {
	case "Content-Type", "Upgrade", "Connection", headerImpersonateUser, headerImpersonateUID, headerImpersonateGroup:
		return true
	}
	return strings.HasPrefix(name, headerImpersonateExtra)
}

// Raw returns the request as recorded for fixtures.
func (r *Request) Raw(endpoint string) *Raw {
	raw := &Raw{Endpoint: endpoint, Method: r.Method, Target: r.Target, BodyTruncated: r.BodyTruncated}
	raw.Body, raw.BodyBase64 = httprelay.EncodeBody(r.Body)
	if len(r.header) > 0 {
		raw.Headers = r.header
	}
	return raw
}

// Input turns a recorded request back into decoder input.
func (raw *Raw) Input() (*Input, error) {
	body := []byte(raw.Body)
	if raw.BodyBase64 != "" {
		var err error
		if body, err = base64.StdEncoding.DecodeString(raw.BodyBase64); err != nil {
			return nil, fmt.Errorf("body_base64: %w", err)
		}
	}
	h := make(http.Header, len(raw.Headers))
	for k, v := range raw.Headers {
		h[http.CanonicalHeaderKey(k)] = v
	}
	return &Input{Method: raw.Method, Target: raw.Target, Header: h, Body: body, BodyTruncated: raw.BodyTruncated}, nil
}
