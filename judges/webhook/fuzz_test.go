package webhook

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzParseDecision checks that parseDecision never panics and accepts
// only allow or deny for the right approval.
func FuzzParseDecision(f *testing.F) {
	for _, seed := range []string{
		`{"approval_id":"p1","decision":"allow"}`,
		`{"approval_id":"p1","decision":"deny","reason":"r","decided_by":"bob"}`,
		`{"approval_id":"p1","decision":"pending"}`,
		`{"approval_id":"p2","decision":"allow"}`,
		`{"approval_id":"p1","decision":"allow","extra":1}`,
		`{"approval_id":"p1","decision":"allow"}{"x":1}`,
		`not json`, ``,
	} {
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, mayDefer bool) {
		d, err := parseDecision(body, "p1", mayDefer)
		if err != nil {
			return
		}
		ok := d.Decision == "allow" || d.Decision == "deny" || (mayDefer && d.Decision == "pending")
		if d.ApprovalID != "p1" || !ok {
			t.Fatalf("accepted %q as %+v", body, d)
		}
	})
}

// FuzzVerify checks that a signature verifies only for the signed body.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`{"a":2}`), "v1=00")
	f.Fuzz(func(t *testing.T, body, other []byte, sig string) {
		now := time.Unix(1_800_000_000, 0)
		h := http.Header{}
		SetSignature(h, []byte("k"), body, now)
		if err := Verify(h, []byte("k"), body, now); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		if string(other) != string(body) && Verify(h, []byte("k"), other, now) == nil {
			t.Fatalf("signature of %q verified %q", body, other)
		}
		h2 := http.Header{}
		h2.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h2.Set(HeaderSignature, sig)
		if Verify(h2, []byte("k"), body, now) == nil && sig != h.Get(HeaderSignature) {
			// a comma-separated list containing the right value is fine
			if !containsSig(sig, h.Get(HeaderSignature)) {
				t.Fatalf("forged signature %q verified", sig)
			}
		}
	})
}

func containsSig(list, sig string) bool {
	for i := 0; i+len(sig) <= len(list); i++ {
		if list[i:i+len(sig)] == sig {
			return true
		}
	}
	return false
}
