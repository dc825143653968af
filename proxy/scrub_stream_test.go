package proxy

import (
	"io"
	"testing"
	"time"
)

// chunkReader returns its chunks one Read at a time, then blocks until
// release is closed: a stream, such as a Kubernetes watch, whose next
// bytes are not there yet.
type chunkReader struct {
	chunks  []string
	release chan struct{}
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		<-c.release
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks = c.chunks[1:]
	return n, nil
}

func (c *chunkReader) Close() error { return nil }

func TestScrubberDoesNotHoldBackAStream(t *testing.T) {
	secret := []byte("s3cr3t-token-value")
	cases := []struct {
		name   string
		chunks []string
		first  string // what must come out before the stream continues
	}{
		{"event without secret", []string{`{"type":"ADDED"}` + "\n"}, `{"type":"ADDED"}` + "\n"},
		{"secret inside one read", []string{"a s3cr3t-token-value b\n"}, "a ****************** b\n"},
		{"tail that may start the secret", []string{"event s3cr3t"}, "event "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := &chunkReader{chunks: tc.chunks, release: make(chan struct{})}
			s := NewScrubber(src, [][]byte{secret})
			got := make(chan string, 1)
			go func() {
				buf := make([]byte, 1024)
				n, _ := s.Read(buf)
				got <- string(buf[:n])
			}()
			select {
			case g := <-got:
				if g != tc.first {
					t.Errorf("first read = %q, want %q", g, tc.first)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("the scrubber waited for more input before returning what is final")
			}
			close(src.release)
		})
	}
}

func TestScrubberMasksASecretSplitAcrossReads(t *testing.T) {
	src := &chunkReader{chunks: []string{"x s3cr3t-to", "ken-value y"}, release: make(chan struct{})}
	close(src.release)
	out, err := io.ReadAll(NewScrubber(src, [][]byte{[]byte("s3cr3t-token-value")}))
	if err != nil || string(out) != "x ****************** y" {
		t.Fatalf("got %q, %v", out, err)
	}
}
