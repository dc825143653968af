package proxy

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
)

// Redacted replaces a secret wherever ward writes text it did not compose.
const Redacted = "[redacted]"

// RedactingHandler is a slog.Handler that replaces every resolved secret
// value in log messages and attributes before passing records on. ward never
// logs a secret on purpose; this catches one echoed back inside an upstream's
// error or a policy's log() call.
type RedactingHandler struct {
	next    slog.Handler
	secrets *atomic.Pointer[[]string]
}

// NewRedactingHandler wraps next. Call SetSecrets or AddSecrets whenever
// the set of resolved secrets changes.
func NewRedactingHandler(next slog.Handler) *RedactingHandler {
	return &RedactingHandler{next: next, secrets: new(atomic.Pointer[[]string])}
}

// SetSecrets replaces the values to redact. Values shorter than four bytes
// are skipped: redacting them would mangle ordinary words.
func (h *RedactingHandler) SetSecrets(values [][]byte) {
	var ss []string
	for _, v := range values {
		if len(v) >= 4 {
			ss = append(ss, string(v))
		}
	}
	h.secrets.Store(&ss)
}

// Redact replaces every secret value in s, as log lines get it.
func (h *RedactingHandler) Redact(s string) string { return h.redact(s) }

// AddSecrets adds values to those redacted, keeping the ones already
// there: after a reload, requests that started on the old policy still
// carry its secrets, and Vault may rotate a value at any time. It is safe
// for concurrent use (the gateway's reloads and Vault refreshes).
func (h *RedactingHandler) AddSecrets(values [][]byte) {
	for {
		old := h.secrets.Load()
		var ss []string
		if old != nil {
			ss = slices.Clone(*old)
		}
		for _, v := range values {
			if len(v) >= 4 && !slices.Contains(ss, string(v)) {
				ss = append(ss, string(v))
			}
		}
		if h.secrets.CompareAndSwap(old, &ss) {
			return
		}
	}
}

func (h *RedactingHandler) redact(s string) string {
	p := h.secrets.Load()
	if p == nil {
		return s
	}
	for _, secret := range *p {
		if strings.Contains(s, secret) {
			s = strings.ReplaceAll(s, secret, Redacted)
		}
	}
	return s
}

// Enabled implements slog.Handler.
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *RedactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *RedactingHandler) redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.redact(v.String()))
	case slog.KindGroup:
		attrs := v.Group()
		out := make([]any, len(attrs))
		for i, ga := range attrs {
			out[i] = h.redactAttr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		return slog.String(a.Key, h.redact(v.String()))
	}
	return a
}

// WithAttrs implements slog.Handler.
func (h *RedactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redactAttr(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red), secrets: h.secrets}
}

// WithGroup implements slog.Handler.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{next: h.next.WithGroup(name), secrets: h.secrets}
}

var _ slog.Handler = (*RedactingHandler)(nil)
