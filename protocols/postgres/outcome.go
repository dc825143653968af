package postgres

import (
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/wardproject/ward/proxy/audit"
)

// openAction is a forwarded action whose result has not come back yet. A
// simple Query completes at its own ReadyForQuery; an extended-protocol
// statement at the ReadyForQuery after its first execution (Bind), or
// when it is replaced, closed or never run before the session ends.
type openAction struct {
	id    string
	start time.Time
	at    int64  // the ReadyForQuery number that answers it; 0 while it waits for a Bind
	stmt  string // the prepared statement's name, for extended-protocol actions
}

// opened notes a forwarded Query, answered by ReadyForQuery number at.
// Called by the frontend loop, like every method here but failed and
// answered.
func (sess *session) opened(id string, at int64) {
	if id != "" {
		sess.omu.Lock()
		sess.open = append(sess.open, openAction{id: id, start: time.Now(), at: at})
		sess.omu.Unlock()
	}
}

// parsed notes a forwarded Parse of statement name; it is answered once
// the statement first runs. A statement it replaces that never ran is
// answered by the next ReadyForQuery.
func (sess *session) parsed(id, name string) {
	sess.omu.Lock()
	defer sess.omu.Unlock()
	sess.settle(name, sess.syncsSent+1)
	if id != "" {
		sess.open = append(sess.open, openAction{id: id, start: time.Now(), stmt: name})
	}
}

// bound notes a Bind of statement name: its action is answered by the
// Sync that follows.
func (sess *session) bound(name string) {
	sess.omu.Lock()
	sess.settle(name, sess.syncsSent+1)
	sess.omu.Unlock()
}

// closed notes a Close of statement name.
func (sess *session) closed(name string) { sess.bound(name) }

// settle gives statement name's waiting action the ReadyForQuery number
// at. sess.omu is held.
func (sess *session) settle(name string, at int64) {
	for i := range sess.open {
		if a := &sess.open[i]; a.at == 0 && a.stmt == name {
			a.at = at
		}
	}
}

// failed notes a server error in the batch being answered (not the error
// of a ward denial marker). Called by the relay.
func (sess *session) failed(m *pgproto3.ErrorResponse) {
	sess.omu.Lock()
	if sess.batchErr == "" {
		sess.batchErr = "SQLSTATE " + m.Code + ": " + m.Message
	}
	sess.omu.Unlock()
}

// answered completes the actions answered by ReadyForQuery number n: the
// audit record gets its duration and the batch's error, if any (in an
// extended-protocol batch an error fails every statement of it: they ran
// in one implicit transaction, or not at all). Called by the relay after
// the ReadyForQuery went to the agent.
func (sess *session) answered(n int64) {
	sess.omu.Lock()
	var done []openAction
	kept := sess.open[:0]
	for _, a := range sess.open {
		if a.at != 0 && a.at <= n {
			done = append(done, a)
		} else {
			kept = append(kept, a)
		}
	}
	sess.open = kept
	errText := sess.batchErr
	sess.batchErr = ""
	sess.omu.Unlock()
	now := time.Now()
	for _, a := range done {
		sess.srv.Engine.Complete(audit.Completion{ID: a.id, Duration: now.Sub(a.start), Error: errText})
	}
}

// abandoned completes what the server never answered, or what never ran,
// because the session ended first. Called once both loops have stopped.
func (sess *session) abandoned() {
	sess.omu.Lock()
	for i := range sess.open {
		sess.open[i].at = math.MaxInt64
	}
	sess.batchErr = "the session ended before the database answered"
	sess.omu.Unlock()
	sess.answered(math.MaxInt64)
}
