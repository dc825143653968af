package postgres

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// watchDelay is how long a decision runs before the agent's connection is
// watched: only judge waits take that long, and the watch costs a
// goroutine and two deadline changes.
const watchDelay = 50 * time.Millisecond

// maxReadAhead bounds what the watch reads ahead of the session (an agent
// pipelining messages behind the held one); past it the watch stops.
const maxReadAhead = 64 << 10

// agentReader reads the agent's connection for the session. Normally it
// is the connection itself. While a statement waits for a verdict nobody
// reads the agent, so a killed agent would go unnoticed until the judge
// answered, and an approval after it would run the statement for nobody:
// watch reads ahead meanwhile, notices the connection ending, and cancels
// the decision; what it read is replayed to the session first.
type agentReader struct {
	conn net.Conn

	mu      sync.Mutex
	pending []byte
	err     error // the read error the watch saw, returned after pending
}

// Read implements io.Reader for the session's message reader. It is never
// called while a watch runs (the session is deciding then).
func (r *agentReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		r.mu.Unlock()
		return n, nil
	}
	if err := r.err; err != nil {
		r.mu.Unlock()
		return 0, err
	}
	r.mu.Unlock()
	return r.conn.Read(p)
}

// watch calls gone if the agent's connection ends while a decision takes
// longer than watchDelay. The returned stop ends the watch; it must be
// called before the session reads again.
func (r *agentReader) watch(gone func()) (stop func()) {
	if r == nil {
		return func() {}
	}
	var (
		mu      sync.Mutex
		done    chan struct{}
		stopped atomic.Bool
	)
	t := time.AfterFunc(watchDelay, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped.Load() {
			return
		}
		done = make(chan struct{})
		go r.readAhead(done, &stopped, gone)
	})
	return func() {
		t.Stop()
		mu.Lock()
		defer mu.Unlock()
		stopped.Store(true)
		if done == nil {
			return
		}
		r.conn.SetReadDeadline(time.Now()) // wakes the read ahead
		<-done
		r.conn.SetReadDeadline(time.Time{})
	}
}

func (r *agentReader) readAhead(done chan struct{}, stopped *atomic.Bool, gone func()) {
	defer close(done)
	buf := make([]byte, 4096)
	for {
		n, err := r.conn.Read(buf)
		r.mu.Lock()
		r.pending = append(r.pending, buf[:n]...)
		full := len(r.pending) >= maxReadAhead
		ended := err != nil && !(stopped.Load() && errors.Is(err, os.ErrDeadlineExceeded))
		if ended {
			r.err = err
		}
		r.mu.Unlock()
		switch {
		case ended:
			gone()
			return
		case err != nil, full:
			return
		}
	}
}
