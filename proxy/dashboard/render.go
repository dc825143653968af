package dashboard

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// pages are the parsed templates, one set per page.
type pages struct {
	byName map[string]*template.Template
}

var pageNames = []string{"index", "action", "approval", "status", "error"}

func loadPages() (*pages, error) {
	funcs := template.FuncMap{
		"time":     func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05.000 MST") },
		"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"micros":   formatMicros,
		"join":     strings.Join,
		"nonzero":  func(t time.Time) bool { return !t.IsZero() },
		"ago":      func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
		"verdictc": verdictClass,
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// page is what every template gets.
type page struct {
	Title string
	Who   string
	CSRF  string
	Data  any
}

// render writes a page. It renders into a buffer first so that a template
// error becomes a clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *request, status int, name, title string, data any) error {
	var b bytes.Buffer
	err := s.pages.byName[name].Execute(&b, page{Title: title, Who: r.id.Name(), CSRF: r.csrf, Data: data})
	if err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(s.mask(b.Bytes()))
	return nil
}

// writeJSON answers with v as JSON.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(s.mask(data), '\n'))
	return nil
}

// httpError is an error with the status it answers with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// fail answers r with err: JSON for API and event requests, a page
// otherwise. Errors that are not httpErrors are logged and shown as
// internal errors without their text.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		s.cfg.Logger.Error("dashboard: request failed", "path", r.URL.Path, "error", err)
		he = &httpError{status: http.StatusInternalServerError, msg: "internal error (see the gateway log)"}
	}
	if wantsJSON(r) {
		_ = s.writeJSON(w, he.status, map[string]string{"error": he.msg})
		return
	}
	var b bytes.Buffer
	if err := s.pages.byName["error"].Execute(&b, page{Title: http.StatusText(he.status), Data: he.msg}); err != nil {
		http.Error(w, he.msg, he.status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(he.status)
	_, _ = w.Write(s.mask(b.Bytes()))
}

// wantsJSON reports whether r is a script's request rather than a page's.
func wantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/events" ||
		strings.Contains(r.Header.Get("Accept"), "application/json")
}

// staticFiles serves the embedded script and style sheet.
func staticFiles() http.Handler {
	sub, err := fs.Sub(assets, "assets/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fsrv := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}

// formatMicros renders a duration in µs for people.
func formatMicros(us int64) string {
	switch {
	case us <= 0:
		return "—"
	case us < 1000:
		return fmt.Sprintf("%dµs", us)
	case us < 1_000_000:
		return fmt.Sprintf("%.1fms", float64(us)/1000)
	}
	return (time.Duration(us) * time.Microsecond).Round(100 * time.Millisecond).String()
}

// verdictClass is the CSS class of a verdict.
func verdictClass(v string) string {
	switch v {
	case "allow", "allowed", "passthrough":
		return "ok"
	case "would_deny", "pending":
		return "warn"
	}
	return "bad"
}

// prettyJSON indents raw JSON for a page, cut at limit bytes.
func prettyJSON(raw json.RawMessage, limit int) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	if b.Len() > limit {
		return b.String()[:limit] + fmt.Sprintf("\n… (cut: %d bytes in all)", b.Len())
	}
	return b.String()
}
