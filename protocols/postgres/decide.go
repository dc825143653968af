package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/wardproject/ward/builtins"
	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/protocols/postgres/sqlfacts"
	"github.com/wardproject/ward/proxy"
	"github.com/wardproject/ward/proxy/audit"
	"github.com/wardproject/ward/starlark/policy"
)

// prepared is what a session knows of a prepared statement.
type prepared struct {
	facts *sqlfacts.Statement
	sql   string
	refs  map[string]string // SQL of prepared statements it was built from
	snap  *proxy.Snapshot   // the policy that allowed it
}

// outcome is a decision on one message.
type outcome struct {
	allowed  bool
	reason   string
	actionID string
	code     string // SQLSTATE of a denial
	analysis *sqlfacts.Analysis
	snap     *proxy.Snapshot
}

// errBarrier is the reason given while a computed setting is in flight.
const errBarrier = "a statement that sets a run-time parameter named at run time is still running; wait for its result (Sync) before sending more"

// errBusy is the reason given for text that reads differently under other
// settings while earlier statements still run (one of them may change a
// setting where ward cannot see it; the server reports that only when done).
const errBusy = "the server would read this text differently if an earlier statement, still running, changed standard_conforming_strings " +
	"or client_encoding (it has a backslash in a '…' string, or a non-ASCII character right before punctuation); " +
	"send it after the earlier results (Sync), or write such strings as E'…' or in dollar quotes"

// onQuery decides a simple-protocol Query.
func (sess *session) onQuery(m *pgproto3.Query) error {
	o := sess.check(m.String)
	if !o.allowed {
		return sess.denySimple(o.reason, o.actionID, o.code)
	}
	sess.apply(o)
	sess.syncsSent++
	sess.opened(o.actionID, sess.syncsSent)
	sess.batchRuns = false // the RFQ of this Query follows everything before it
	if o.analysis != nil && slices.Contains(o.analysis.Verbs, "begin") {
		sess.beganAt = sess.syncsSent
	}
	if o.analysis != nil && o.analysis.DynamicSettings() {
		sess.barrierAt = sess.syncsSent
	}
	return sess.forward(m, true)
}

// onParse decides an extended-protocol Parse.
func (sess *session) onParse(m *pgproto3.Parse) error {
	o := sess.check(m.Query)
	if !o.allowed {
		delete(sess.prepared, m.Name)
		return sess.denyExtended(o.reason, o.actionID, o.code)
	}
	sess.apply(o)
	sess.parsed(o.actionID, m.Name)
	facts := &sqlfacts.Statement{}
	if o.analysis != nil {
		facts = o.analysis.Prepare()
		if slices.Contains(o.analysis.Verbs, "begin") {
			sess.beganAt = sess.syncsSent + 1
		}
	}
	sess.remember(m.Name, &prepared{facts: facts, sql: m.Query, refs: sess.refs(o.analysis), snap: o.snap})
	return sess.forward(m, false)
}

// onBind re-checks a prepared statement when the policy changed since it
// was allowed, and refuses statements ward does not know.
func (sess *session) onBind(m *pgproto3.Bind) error {
	p, ok := sess.prepared[m.PreparedStatement]
	if !ok {
		return sess.denyExtended("no statement named "+quoteName(m.PreparedStatement)+" was prepared through ward in this session", "", "")
	}
	if snap := sess.srv.Engine.Snapshot(); snap != p.snap {
		a := sqlfacts.FromStatements(*p.facts)
		o := sess.decide(p.sql, a, p.refs)
		if !o.allowed {
			return sess.denyExtended(o.reason, o.actionID, o.code)
		}
		p.snap = o.snap
		sess.parsed(o.actionID, m.PreparedStatement)
	}
	sess.bound(m.PreparedStatement)
	if p.facts.DynamicSettings() {
		sess.barrierAt = sess.syncsSent + 1
	}
	return sess.forward(m, false)
}

// check analyses sql and decides it.
func (sess *session) check(sql string) outcome {
	if len(sql) > sess.maxQuery {
		return sess.refuse(sql, fmt.Sprintf("the statement text is %d bytes, more than max_query (%d bytes): "+
			"send less at once (COPY for bulk data), or raise max_query in the policy", len(sql), sess.maxQuery))
	}
	if sess.rfqs.Load() < sess.barrierAt {
		return sess.refuse(sql, errBarrier)
	}
	a, err := sess.srv.Analyzer.Analyze(sql)
	if err == nil {
		a, err = a.Resolve(sess.lookup)
	}
	if err != nil {
		return sess.refuse(sql, err.Error())
	}
	if a.ReadsDifferently() && !sess.idle() {
		return sess.refuse(sql, errBusy)
	}
	if len(a.Statements) == 0 {
		// An empty query does nothing; the server answers EmptyQueryResponse.
		return outcome{allowed: true, analysis: a, snap: sess.srv.Engine.Snapshot()}
	}
	return sess.decide(sql, a, sess.refs(a))
}

// decide asks the endpoint's hook (through the engine, which records the
// action before returning).
func (sess *session) decide(sql string, a *sqlfacts.Analysis, refs map[string]string) outcome {
	snap := sess.srv.Engine.Snapshot()
	ep := snap.Policy.Endpoint(sess.srv.Endpoint)
	if ep == nil || ep.Postgres == nil {
		return outcome{reason: "endpoint " + sess.srv.Endpoint + " is no longer declared", snap: snap}
	}
	act := sess.newAction(sql, a, refs)
	ctx, cancel := context.WithCancel(sess.ctx)
	if hold := sess.hold(ep, act); hold != nil {
		ctx = builtins.WithHold(ctx, hold)
		defer func() { sess.heldInTx += hold.Used() }()
	}
	sess.dmu.Lock()
	sess.decideCancel, sess.cancelled = cancel, false
	sess.dmu.Unlock()
	stopWatch := sess.reader.watch(cancel) // an agent that leaves cancels the wait
	d, err := sess.srv.Engine.Decide(ctx, snap, ep, ep.Hook, act)
	stopWatch()
	sess.dmu.Lock()
	sess.decideCancel = nil
	cancelled := sess.cancelled
	sess.dmu.Unlock()
	cancel()
	o := outcome{allowed: d.Forward, reason: d.Verdict.Reason, actionID: act.ID, analysis: a, snap: snap}
	switch {
	case err != nil:
		o.allowed, o.reason = false, err.Error()
	case cancelled && !o.allowed:
		o.code = "57014"
	}
	return o
}

// hold bounds the judges' waits on a statement sent inside a transaction:
// the server keeps the transaction's locks while someone decides.
func (sess *session) hold(ep *policy.Endpoint, act *action.Action) *builtins.Hold {
	if q, ok := act.Facts.(*Query); !ok || !q.InTransaction {
		return nil
	}
	limit := ep.Postgres.MaxHoldInTransaction
	return &builtins.Hold{Max: limit, Before: sess.heldInTx,
		Reason:     fmt.Sprintf("held inside a transaction longer than max_hold_in_transaction (%s); its locks stay held while it waits", limit),
		Connection: fmt.Sprintf("%s (agent %s), backend pid %d", sess.agentConn.RemoteAddr(), sess.agent.Name, sess.up.pid)}
}

// refuse records and denies a message that cannot be analysed.
func (sess *session) refuse(sql, reason string) outcome {
	act := sess.newAction(sql, &sqlfacts.Analysis{}, nil)
	v := action.Verdict{Reason: reason, DecidedBy: "gateway"}
	if err := sess.srv.Engine.Record(act, audit.VerdictRefused, v); err != nil {
		reason = err.Error()
	}
	return outcome{reason: reason, actionID: act.ID}
}

func (sess *session) newAction(sql string, a *sqlfacts.Analysis, refs map[string]string) *action.Action {
	q := &Query{Endpoint: sess.srv.Endpoint, SQL: sql, User: sess.user, Database: sess.database, InTransaction: sess.inTransaction(),
		Analysis: a, Prepared: refs}
	act := sess.srv.Engine.NewAction("postgres", sess.srv.Endpoint, sess.agent)
	act.Facts, act.Raw = q, q.Raw()
	return act
}

// idle reports whether the server has finished everything forwarded so
// far (and so reported any change of its settings).
func (sess *session) idle() bool {
	return !sess.batchRuns && sess.rfqs.Load() >= sess.syncsSent
}

// inTransaction reports whether the session is inside a transaction
// block: the server said so in its last ReadyForQuery, or a BEGIN was
// forwarded that it has not answered yet.
func (sess *session) inTransaction() bool {
	return sess.status.Load() != 'I' || sess.rfqs.Load() < sess.beganAt
}

func (sess *session) lookup(name string) (*sqlfacts.Statement, bool) {
	p, ok := sess.prepared[name]
	if !ok {
		return nil, false
	}
	return p.facts, true
}

// refs returns the SQL of the prepared statements a runs, for replay.
func (sess *session) refs(a *sqlfacts.Analysis) map[string]string {
	if a == nil || !a.NeedsResolve() {
		return nil
	}
	out := map[string]string{}
	for _, s := range a.Statements {
		for _, name := range s.Executes {
			if p, ok := sess.prepared[name]; ok {
				out[name] = p.sql
			}
		}
	}
	return out
}

// apply updates the session's prepared statements after an allowed
// message: DEALLOCATE and DISCARD ALL forget, PREPARE remembers.
func (sess *session) apply(o outcome) {
	if o.analysis == nil {
		return
	}
	for _, s := range o.analysis.Statements {
		for _, name := range s.Deallocates {
			if name == "*" {
				clear(sess.prepared)
			} else {
				delete(sess.prepared, name)
			}
		}
		if s.Prepares != "" && s.Prepared != nil {
			sess.remember(s.Prepares, &prepared{facts: s.Prepared, sql: s.Text, snap: o.snap})
		}
	}
}

// remember records a prepared statement. A named statement that already
// exists keeps the facts of both: the server refuses to redefine it, so
// ward cannot be sure which one it holds.
func (sess *session) remember(name string, p *prepared) {
	if old, ok := sess.prepared[name]; ok && name != "" {
		p.facts = sqlfacts.Merge(old.facts, p.facts)
	}
	sess.prepared[name] = p
}

func quoteName(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return `"` + s + `"`
}
