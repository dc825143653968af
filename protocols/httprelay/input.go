package httprelay

import "net/http"

// Input is a request as a port endpoint's decoder reads it, whether it
// came off the wire, from a test constructor, or from a recorded fixture.
type Input struct {
	Method string
	// Target is the request-target in origin form, exactly as sent:
	// "/api/v1/namespaces/default/pods?limit=500", "/?query=SELECT+1".
	Target        string
	Header        http.Header
	Body          []byte // the first body_limit bytes
	BodyTruncated bool
}
