package proxy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRedactingHandler(t *testing.T) {
	var buf bytes.Buffer
	h := NewRedactingHandler(slog.NewTextHandler(&buf, nil))
	h.SetSecrets([][]byte{[]byte("s3cret-value"), []byte("abc")}) // too short to redact
	l := slog.New(h).With("ctx", "token=s3cret-value")
	l.Info("upstream said s3cret-value", "err", errors.New("bad s3cret-value"), "n", 3,
		slog.Group("g", "inner", "s3cret-value"), "abc", "abc")
	out := buf.String()
	if strings.Contains(out, "s3cret-value") {
		t.Fatalf("secret in log: %s", out)
	}
	if strings.Count(out, Redacted) != 4 || !strings.Contains(out, "abc=abc") {
		t.Fatalf("log: %s", out)
	}
}

func TestScrubber(t *testing.T) {
	needles := [][]byte{[]byte("SECRET-TOKEN"), []byte("U0VDUkVU")}
	tests := []struct{ name, in, want string }{
		{"none", "hello world", "hello world"},
		{"one", "x SECRET-TOKEN y", "x ************ y"},
		{"two kinds", "SECRET-TOKENU0VDUkVU", "********************"},
		{"at the end", "abc SECRET-TOKEN", "abc ************"},
		{"partial at the end", "abc SECRET-TOK", "abc SECRET-TOK"},
		{"repeated", strings.Repeat("SECRET-TOKEN.", 1000), strings.Repeat("************.", 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte per read: every match straddles reads.
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in)), iotest.HalfReader(strings.NewReader(tt.in))} {
				s := NewScrubber(io.NopCloser(r), needles)
				got, err := io.ReadAll(s)
				if err != nil || string(got) != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
			}
		})
	}
	if r := io.NopCloser(strings.NewReader("x")); NewScrubber(r, [][]byte{[]byte("ab")}) != r {
		t.Error("short needles should leave the body unwrapped")
	}
}
