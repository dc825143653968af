package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers that carry the signature, both ways.
const (
	HeaderTimestamp = "X-Ward-Timestamp"
	HeaderSignature = "X-Ward-Signature"
)

// MaxSkew is how far a signed message's timestamp may be from now; older
// messages are replays.
const MaxSkew = 5 * time.Minute

// Sign returns the signature header value of body sent at ts:
// "v1=" + hex(HMAC-SHA256(secret, "v1:" + ts + ":" + body)).
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "v1:%d:", ts)
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// SetSignature signs body onto h with the current time.
func SetSignature(h http.Header, secret, body []byte, now time.Time) {
	ts := now.Unix()
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(secret, ts, body))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("bad or missing signature")
	ErrStale        = errors.New("stale timestamp: more than five minutes from now")
)

// Verify checks the signature of body in h.
// An empty secret verifies nothing: anyone could sign with it.
func Verify(h http.Header, secret, body []byte, now time.Time) error {
	if len(secret) == 0 {
		return ErrBadSignature
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	got := h.Get(HeaderSignature)
	for _, sig := range strings.Split(got, ",") { // room for several during a key rotation
		if hmac.Equal([]byte(strings.TrimSpace(sig)), []byte(Sign(secret, ts, body))) {
			return nil
		}
	}
	return ErrBadSignature
}
