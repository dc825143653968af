package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wardproject/ward/proxy/audit"
)

// heartbeat is how often an idle event stream sends a comment, so that
// proxies keep it open and a dead browser is noticed.
const heartbeat = 15 * time.Second

// writeTimeout bounds one write to an event stream.
const writeTimeout = 10 * time.Second

// events streams server-sent events: "action" for each new record that
// matches the filter (agent, endpoint, verdict), with the record's Seq as
// the event ID, and "approvals" with the pending approvals whenever they
// change. A stream resumes after Last-Event-ID (or ?after=SEQ) by
// replaying from the audit store first.
func (s *Server) events(w http.ResponseWriter, r *request) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	after, resume, err := resumeFrom(r)
	if err != nil {
		return err
	}
	sub, err := s.hub.subscribe(r.Context())
	if err != nil {
		return err
	}
	defer s.hub.unsubscribe(sub)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, rc: rc, f: f, last: after, mask: s.mask}
	if err := st.send("", "", "retry: 2000\n"); err != nil {
		return nil
	}
	if resume {
		if err := s.replay(r, st); err != nil {
			return nil
		}
	}
	if err := s.sendApprovals(r, st); err != nil || st.flush() != nil {
		return nil
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.done:
			return nil
		case <-beat.C:
			err = st.send("", "", ": keep-alive\n")
		case ev, ok := <-sub.ch:
			if !ok {
				return nil // dropped: too far behind; the browser reconnects
			}
			err = s.deliverAll(r, st, ev, sub.ch)
		}
		if err == nil {
			err = st.flush()
		}
		if err != nil {
			return nil
		}
	}
}

// deliverAll sends ev and every event already waiting behind it, so that a
// burst costs one flush.
func (s *Server) deliverAll(r *request, st *stream, ev event, ch <-chan event) error {
	for {
		if err := s.deliver(r, st, ev); err != nil {
			return err
		}
		var ok bool
		select {
		case ev, ok = <-ch:
			if !ok {
				return nil
			}
		default:
			return nil
		}
	}
}

// stream is one open event stream.
type stream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	f    audit.Filter
	last int64 // the newest Seq sent or replayed
	mask func([]byte) []byte
}

// flush sends what was written.
func (st *stream) flush() error {
	_ = st.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return st.rc.Flush()
}

// send writes one event (or, with an empty name, raw lines); the caller
// flushes.
func (st *stream) send(name, id, data string) error {
	_ = st.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	var err error
	if name == "" {
		_, err = fmt.Fprintf(st.w, "%s\n", data)
	} else {
		if id != "" {
			_, err = fmt.Fprintf(st.w, "id: %s\n", id)
		}
		if err == nil {
			_, err = fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", name, data)
		}
	}
	return err
}

// sendRow sends an action if it matches the stream's filter and is new to
// it.
func (st *stream) sendRow(r *row) error {
	if r.Seq <= st.last || !matches(st.f, r) {
		return nil
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	st.last = r.Seq
	return st.send("action", strconv.FormatInt(r.Seq, 10), string(st.mask(data)))
}

// maxReplay is the most actions a resuming stream replays. A browser that
// missed more is told to start over ("reset"): it reloads the newest page.
const maxReplay = 1000

// replay sends what the store holds after the stream's resume point.
func (s *Server) replay(r *request, st *stream) error {
	f := st.f
	f.AfterSeq, f.Limit = st.last, maxReplay+1
	recs, err := s.cfg.Store.List(r.Context(), f)
	if err != nil {
		s.cfg.Logger.Warn("dashboard: replay failed", "error", err)
		return err
	}
	if len(recs) > maxReplay {
		newest, err := s.cfg.Store.List(r.Context(), audit.Filter{Newest: true, Limit: 1})
		if err != nil {
			return err
		}
		if len(newest) == 1 {
			st.last = newest[0].Seq
		}
		return st.send("reset", "", fmt.Sprintf(`{"missed_more_than":%d}`, maxReplay))
	}
	for i := range recs {
		r := rowOf(&recs[i])
		if err := st.sendRow(&r); err != nil {
			return err
		}
	}
	return nil
}

// deliver sends one hub event to the stream.
func (s *Server) deliver(r *request, st *stream, ev event) error {
	if ev.kind == "" {
		for i := range ev.rows {
			if err := st.sendRow(&ev.rows[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return s.deliverChange(r, st, ev)
}

// matches reports whether an action passes a feed filter.
func matches(f audit.Filter, r *row) bool {
	return (f.Verdict == "" || f.Verdict == r.Verdict) &&
		(f.Endpoint == "" || f.Endpoint == r.Endpoint) &&
		(f.Agent == "" || f.Agent == r.Agent)
}

// resumeFrom is the Seq a stream resumes after, if it resumes: the
// Last-Event-ID of a reconnecting browser, else ?after (0 replays the
// whole log). Without either, the stream starts with what comes next.
func resumeFrom(r *request) (int64, bool, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, errorf(http.StatusBadRequest, "after must be a sequence number, got %q", v)
	}
	return n, true, nil
}
