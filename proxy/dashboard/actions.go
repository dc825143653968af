package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policytest"
)

// row is an action as the live feed shows it.
type row struct {
	Seq       int64     `json:"seq"`
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Agent     string    `json:"agent"`
	User      string    `json:"user,omitempty"`
	Endpoint  string    `json:"endpoint"`
	Protocol  string    `json:"protocol"`
	Summary   string    `json:"summary"`
	Verdict   string    `json:"verdict"`
	Reason    string    `json:"reason,omitempty"`
	DecidedBy string    `json:"decided_by,omitempty"`
	// LatencyMicros is the time to the verdict: the hook plus judge waits.
	LatencyMicros int64 `json:"latency_us"`
}

// maxSummary is the longest summary the feed carries; the action's page
// shows all of it.
const maxSummary = 300

func rowOf(rec *audit.Record) row {
	sum := rec.Summary
	if len(sum) > maxSummary {
		sum = sum[:maxSummary] + "…"
	}
	return row{Seq: rec.Seq, ID: rec.ID, Time: rec.Time, Agent: rec.Agent.Name, User: rec.Agent.User, Endpoint: rec.Endpoint,
		Protocol: rec.Protocol, Summary: sum, Verdict: rec.Verdict, Reason: rec.Reason, DecidedBy: rec.DecidedBy,
		LatencyMicros: rec.PolicyMicros + rec.JudgeMicros}
}

// Paging limits of /api/actions.
const (
	defaultPage = 50
	maxPage     = 500
)

// parseFilter reads the feed filter from the query: agent, endpoint,
// verdict.
func parseFilter(r *request) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{Agent: q.Get("agent"), Endpoint: q.Get("endpoint"), Verdict: q.Get("verdict")}
	if f.Verdict != "" && !slices.Contains(verdicts, f.Verdict) {
		return f, errorf(http.StatusBadRequest, "verdict must be one of %v, got %q", verdicts, f.Verdict)
	}
	return f, nil
}

// verdicts are the values of the verdict filter.
var verdicts = []string{audit.VerdictAllow, audit.VerdictDeny, audit.VerdictWouldDeny, audit.VerdictRefused, audit.VerdictPassthrough}

// apiActions pages back through history, newest first: ?before=SEQ for
// the page older than SEQ, ?limit=N (default 50, at most 500), and the
// feed filters.
func (s *Server) apiActions(w http.ResponseWriter, r *request) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f.Limit, f.Newest = defaultPage, true
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return errorf(http.StatusBadRequest, "limit must be 1 to %d, got %q", maxPage, v)
		}
		f.Limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return errorf(http.StatusBadRequest, "before must be a sequence number, got %q", v)
		}
		f.BeforeSeq = n
	}
	recs, err := s.cfg.Store.List(r.Context(), f)
	if err != nil {
		return err
	}
	rows := make([]row, len(recs))
	for i := range recs {
		rows[len(recs)-1-i] = rowOf(&recs[i])
	}
	return s.writeJSON(w, http.StatusOK, map[string]any{"actions": rows, "more": len(recs) == f.Limit})
}

// record fetches the action named in the path.
func (s *Server) record(r *request) (audit.Record, error) {
	id := r.PathValue("id")
	rec, err := s.cfg.Store.Get(r.Context(), id)
	if errors.Is(err, audit.ErrNotFound) {
		return rec, errorf(http.StatusNotFound,
			"no action %s in the audit log (an action held for approval is recorded once it is decided)", id)
	}
	return rec, err
}

// apiAction returns one audited action, all of it.
func (s *Server) apiAction(w http.ResponseWriter, r *request) error {
	rec, err := s.record(r)
	if err != nil {
		return err
	}
	return s.writeJSON(w, http.StatusOK, rec)
}

// actionView is what the action page shows.
type actionView struct {
	Rec        audit.Record
	Facts      string
	Details    string
	Judges     []judgeView
	FixtureErr string // why there is no fixture, if there is none
}

// maxShown is how much of the facts and details the page shows.
const maxShown = 256 << 10

// actionPage shows one action: facts, verdict, judges, timings, outcome,
// and the fixture download.
func (s *Server) actionPage(w http.ResponseWriter, r *request) error {
	rec, err := s.record(r)
	if err != nil {
		return err
	}
	v := actionView{Rec: rec, Facts: prettyJSON(rec.Facts, maxShown), Details: prettyJSON(rec.Details, maxShown), Judges: judgesOf(rec)}
	if _, err := policytest.FromRecord(rec); err != nil {
		v.FixtureErr = err.Error()
	}
	return s.render(w, r, http.StatusOK, "action", rec.Summary, v)
}

// fixture downloads the action as a fixture: exactly what `ward fixture
// ACTION_ID` prints.
func (s *Server) fixture(w http.ResponseWriter, r *request) error {
	rec, err := s.record(r)
	if err != nil {
		return err
	}
	f, err := policytest.FromRecord(rec)
	if err != nil {
		return errorf(http.StatusConflict, "%v", err)
	}
	data, err := f.Marshal()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+fixtureName(rec.ID)+`"`)
	_, _ = w.Write(s.mask(data))
	return nil
}

// fixtureName is the download's file name; action IDs are plain
// letters and digits, anything else is dropped.
func fixtureName(id string) string {
	b := make([]byte, 0, len(id))
	for i := 0; i < len(id) && len(b) < 64; i++ {
		if c := id[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		b = append(b, "action"...)
	}
	return string(b) + ".fixture.json"
}

// index is the live feed with the pending approvals.
func (s *Server) index(w http.ResponseWriter, r *request) error {
	return s.render(w, r, http.StatusOK, "index", "Live actions", map[string]any{"Verdicts": verdicts})
}

// judgeView is one judge's answer as the audit record keeps it in
// Details ({"judges": [...]}, written by the gateway's engine).
type judgeView struct {
	Judge         string         `json:"judge"`
	Allowed       bool           `json:"allowed"`
	Reason        string         `json:"reason"`
	DecidedBy     string         `json:"decided_by"`
	LatencyMicros int64          `json:"latency_us"`
	Details       map[string]any `json:"details"`
}

// judgesOf reads the judges' answers from rec's details; details in
// another shape are shown raw only.
func judgesOf(rec audit.Record) []judgeView {
	var d struct {
		Judges []judgeView `json:"judges"`
	}
	if len(rec.Details) == 0 || json.Unmarshal(rec.Details, &d) != nil {
		return nil
	}
	return d.Judges
}
