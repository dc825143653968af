package httprelay

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadAheadKeepsTheBodyByteForByte(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 100_000) // 1.6 MB, more than the limit below
	r := &http.Request{Body: io.NopCloser(iotest.HalfReader(strings.NewReader(body)))}
	var gone atomic.Bool
	stop := ReadAhead(r, 64<<10, func() { gone.Store(true) })
	defer stop()
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != body {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if gone.Load() {
		t.Fatal("a complete body was taken for a vanished agent")
	}
}

func TestReadAheadNoticesAVanishedAgent(t *testing.T) {
	pr, pw := io.Pipe()
	r := &http.Request{Body: pr}
	gone := make(chan struct{})
	stop := ReadAhead(r, 1<<20, func() { close(gone) })
	defer stop()
	_, _ = pw.Write([]byte("partial"))
	pw.CloseWithError(io.ErrUnexpectedEOF)
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatal("a body cut short was not noticed")
	}
	got, err := io.ReadAll(r.Body)
	if string(got) != "partial" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestReadAheadStopsWhenTheRequestIsDone(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	r := &http.Request{Body: pr}
	stop := ReadAhead(r, 4, func() {})
	_, _ = pw.Write([]byte("more than four")) // fills the buffer; the reader now waits
	stop()
	done := make(chan struct{})
	go func() {
		var buf bytes.Buffer
		_, _ = io.Copy(&buf, r.Body)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("reading a stopped body blocked")
	}
}
