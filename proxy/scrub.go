package proxy

import (
	"bytes"
	"io"
)

// Scrubber wraps a response body and masks every occurrence of the given
// secrets with asterisks of the same length, so that an upstream that
// echoes the injected credential (an error message, a /headers endpoint)
// cannot hand it to the agent. Lengths are kept, so Content-Length stays
// right.
type Scrubber struct {
	r       io.ReadCloser
	needles [][]byte
	keep    int    // longest needle - 1: the most bytes held back in case a match straddles reads
	buf     []byte // scrubbed bytes not yet returned; the last held() bytes may still change
	err     error
}

// NewScrubber returns r itself when there is nothing to scrub.
func NewScrubber(r io.ReadCloser, needles [][]byte) io.ReadCloser {
	var ns [][]byte
	longest := 0
	for _, n := range needles {
		if len(n) >= 4 {
			ns = append(ns, n)
			longest = max(longest, len(n))
		}
	}
	if len(ns) == 0 {
		return r
	}
	return &Scrubber{r: r, needles: ns, keep: longest - 1}
}

// Read returns scrubbed bytes.
func (s *Scrubber) Read(p []byte) (int, error) {
	for {
		ready := len(s.buf) - s.held()
		if s.err != nil {
			ready = len(s.buf)
		}
		if ready > 0 {
			n := copy(p, s.buf[:ready])
			s.buf = s.buf[n:]
			return n, nil
		}
		if s.err != nil {
			return 0, s.err
		}
		s.fill(len(p))
	}
}

func (s *Scrubber) fill(want int) {
	start := len(s.buf)
	if cap(s.buf)-start < want {
		grown := make([]byte, start, start+max(want, 32<<10))
		copy(grown, s.buf)
		s.buf = grown
	}
	n, err := s.r.Read(s.buf[start:cap(s.buf)])
	s.buf = s.buf[:start+n]
	s.err = err
	// Rescan from where a match could begin: the held-back tail may now
	// complete one.
	from := max(start-s.keep, 0)
	Mask(s.buf[from:], s.needles)
}

// held is how many bytes at the end of buf must wait for more input: the
// longest tail that could still become a needle. Everything before it is
// final, so a stream (a Kubernetes watch, say) is not delayed by a held
// back tail when nothing there looks like the start of a secret.
func (s *Scrubber) held() int {
	h := 0
	for _, n := range s.needles {
		for k := min(len(n)-1, len(s.buf)); k > h; k-- {
			if bytes.HasSuffix(s.buf, n[:k]) {
				h = k
				break
			}
		}
	}
	return h
}

// Mask overwrites every occurrence of each needle in b with asterisks.
func Mask(b []byte, needles [][]byte) {
	for _, n := range needles {
		for off := 0; ; {
			i := bytes.Index(b[off:], n)
			if i < 0 {
				break
			}
			for j := range n {
				b[off+i+j] = '*'
			}
			off += i + len(n)
		}
	}
}

// Close closes the wrapped body.
func (s *Scrubber) Close() error { return s.r.Close() }
