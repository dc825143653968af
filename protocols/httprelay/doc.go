// Package httprelay is the HTTP relay that every HTTP-speaking protocol
// shares: the forward proxy (protocols/httpproxy) and the endpoints that
// listen on ports of their own and speak HTTP (protocols/kubernetes,
// protocols/clickhouse).
//
// The pieces are seams a protocol fills in:
//
//   - Target checks a request-target and refuses the ones servers read in
//     more than one way (CheckTarget, RefusedError).
//   - Transport is an upstream connection pool with the endpoint's TLS
//     roots and client certificate; upgrade requests (WebSocket, SPDY) go
//     over HTTP/1.1.
//   - Relay forwards an allowed request (an Exchange: where it goes, how the
//     credential is injected, which secrets are masked out of responses,
//     how errors are written) with httputil.ReverseProxy, streams responses
//     (watches) and passes upgraded connections through, and records the
//     outcome.
//   - Gate serves an endpoint on a port of its own: it decodes each request
//     with the protocol's Decoder, decides it with the engine, writes
//     denials in the protocol's own error shape, and relays the rest.
package httprelay
