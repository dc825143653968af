package httprelay

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// AheadLimit bounds how much of a request body is read ahead of its
// verdict, in memory.
const AheadLimit = 4 << 20

// errAheadStopped is what a read-ahead body returns once its request is done.
var errAheadStopped = errors.New("request body read-ahead stopped")

// ReadAhead keeps reading the rest of r's body in the background while the
// action is decided, up to limit bytes in memory, and calls gone if the
// agent goes away mid-body. Without it, an agent that vanishes while its
// large upload waits for a judge goes unnoticed (the server only sees a
// closed connection once the body has been read), and a late approval
// would forward a request nobody is waiting for. r.Body is replaced by a
// reader of what was read ahead followed by the rest, byte for byte.
// Call the returned stop once the request is done.
func ReadAhead(r *http.Request, limit int, gone func()) (stop func()) {
	a := &ahead{src: r.Body, limit: limit}
	a.cond = sync.NewCond(&a.mu)
	r.Body = a
	go a.fill(gone)
	return a.stop
}

type ahead struct {
	src   io.ReadCloser
	limit int

	mu      sync.Mutex
	cond    *sync.Cond
	buf     []byte // read from src, not yet read by the forwarder
	err     error  // src's error (io.EOF at the end)
	stopped bool
}

func (a *ahead) fill(gone func()) {
	chunk := make([]byte, 32<<10)
	for {
		a.mu.Lock()
		for len(a.buf) >= a.limit && !a.stopped {
			a.cond.Wait()
		}
		stopped := a.stopped
		a.mu.Unlock()
		if stopped {
			return
		}
		n, err := a.src.Read(chunk)
		a.mu.Lock()
		a.buf = append(a.buf, chunk[:n]...)
		if err != nil {
			a.err = err
		}
		a.cond.Broadcast()
		a.mu.Unlock()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				gone()
			}
			return
		}
	}
}

// Read returns what was read ahead, waiting for more while src has it.
func (a *ahead) Read(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.buf) == 0 && a.err == nil && !a.stopped {
		a.cond.Wait()
	}
	if len(a.buf) > 0 {
		n := copy(p, a.buf)
		a.buf = a.buf[n:]
		a.cond.Broadcast()
		return n, nil
	}
	if a.err != nil {
		return 0, a.err
	}
	return 0, errAheadStopped
}

// Close stops reading ahead and closes the body.
func (a *ahead) Close() error {
	a.stop()
	return a.src.Close()
}

func (a *ahead) stop() {
	a.mu.Lock()
	a.stopped = true
	a.cond.Broadcast()
	a.mu.Unlock()
}
