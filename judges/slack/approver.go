package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/judges/approval"
	"github.com/wardproject/ward/proxy/audit"
)

// Config is what slack.approver declares, with its secrets resolved.
type Config struct {
	Name          string // "slack:#agent-ops"
	Channel       string
	BotToken      string
	AppToken      string // Socket Mode; empty without
	SigningSecret string // HTTP interactivity; empty without
	Approvers     []string
	// Mask scrubs secret values from the messages.
	Mask judges.Masker
}

// groupTTL is how long user group memberships are trusted.
const groupTTL = time.Minute

// Approver is one slack.approver.
type Approver struct {
	hub           *Hub
	api           *slack.Client
	name, channel string
	appToken      string
	signingSecret string
	users         map[string]bool
	groups        []string
	mask          judges.Masker

	mu          sync.Mutex
	groupUsers  map[string]bool
	groupsFresh time.Time
}

// NewApprover returns an approver posting with cfg.BotToken; with an app
// token it makes sure the hub listens on Socket Mode for it.
func (h *Hub) NewApprover(cfg Config) *Approver {
	a := &Approver{hub: h, api: h.client(cfg.BotToken), name: cfg.Name, channel: cfg.Channel,
		appToken: cfg.AppToken, signingSecret: cfg.SigningSecret, users: map[string]bool{}, mask: cfg.Mask}
	for _, id := range cfg.Approvers {
		if strings.HasPrefix(id, "S") {
			a.groups = append(a.groups, id)
		} else {
			a.users[id] = true
		}
	}
	if cfg.AppToken != "" {
		h.listen(cfg.AppToken, cfg.BotToken)
	}
	return a
}

// Name is the judge's name, e.g. "slack:#agent-ops".
func (a *Approver) Name() string { return a.name }

// Decide posts the request and waits for a decision.
func (a *Approver) Decide(ctx context.Context, req judges.Request) judges.Outcome {
	w, err := a.hub.queue.Open(ctx, approval.Request{Judge: a.name, Action: req.Action, Note: req.Note, Timeout: req.Timeout, TimeoutReason: req.TimeoutReason})
	if err != nil {
		return judges.Deny("error", "approval queue unavailable: "+err.Error(), nil)
	}
	id := w.Approval.ID
	details := map[string]any{"approval_id": id}
	// Clicks are accepted from the moment the message can be seen.
	p := &pending{approver: a, channel: a.channel}
	a.hub.register(id, p)
	defer a.hub.unregister(id)
	// Posting counts against the judge's timeout like the wait itself.
	deadline := time.Now().Add(apiTimeout)
	if w.Approval.Expires.Before(deadline) {
		deadline = w.Approval.Expires
	}
	pctx, cancel := context.WithDeadline(ctx, deadline)
	channel, ts, err := a.api.PostMessageContext(pctx, a.channel,
		slack.MsgOptionText(fallbackText(w.Approval, a.mask), false),
		slack.MsgOptionBlocks(messageBlocks(w.Approval, "", a.mask)...))
	expired := pctx.Err() != nil
	cancel()
	if err != nil {
		if !expired { // else the wait ends now as a timeout or a cancellation
			reason := fmt.Sprintf("%s: posting the request failed: %s", a.name, a.mask.Apply(err.Error()))
			a.hub.queue.Decide(id, audit.ApprovalDenied, "error", reason)
		}
		res := w.Wait(ctx)
		details["state"], details["decided_by"] = res.State, res.DecidedBy
		return judges.Outcome{Verdict: approval.Verdict(res), Details: details}
	}
	details["channel"], details["ts"] = channel, ts
	if r, err := json.Marshal(ref{Channel: channel, TS: ts}); err == nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
		if err := a.hub.queue.SetRef(sctx, id, r); err != nil {
			a.hub.logger.Warn("slack: cannot record the message of an approval", "approval", id, "error", err)
		}
		cancel()
	}
	res := w.Wait(ctx)
	// The verdict does not wait for Slack to show it.
	a.hub.later(func() { a.update(context.Background(), channel, ts, res) })
	details["state"], details["decided_by"] = res.State, res.DecidedBy
	return judges.Outcome{Verdict: approval.Verdict(res), Details: details}
}

// update rewrites the request message with its outcome.
func (a *Approver) update(ctx context.Context, channel, ts string, res audit.Approval) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	_, _, _, err := a.api.UpdateMessageContext(ctx, channel, ts,
		slack.MsgOptionText(fallbackText(res, a.mask), false),
		slack.MsgOptionBlocks(messageBlocks(res, outcomeLine(res), a.mask)...))
	if err != nil {
		a.hub.logger.Warn("slack: cannot update the request message", "approval", res.ID, "judge", a.name, "error", err)
	}
}

// ephemeral tells one user something only they see.
func (a *Approver) ephemeral(ctx context.Context, channel, user, text string) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if _, err := a.api.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false)); err != nil {
		a.hub.logger.Warn("slack: cannot send an ephemeral message", "user", user, "error", err)
	}
}

// mayDecide reports whether user is an approver: listed, or a member of a
// listed user group.
func (a *Approver) mayDecide(ctx context.Context, user string) (bool, error) {
	if a.users[user] {
		return true, nil
	}
	if len(a.groups) == 0 {
		return false, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.groupsFresh) > groupTTL {
		members := map[string]bool{}
		for _, g := range a.groups {
			ctx, cancel := context.WithTimeout(ctx, apiTimeout)
			ids, err := a.api.GetUserGroupMembersContext(ctx, g)
			cancel()
			if err != nil {
				return false, fmt.Errorf("members of user group %s: %w", g, err)
			}
			for _, id := range ids {
				members[id] = true
			}
		}
		a.groupUsers, a.groupsFresh = members, time.Now()
	}
	return a.groupUsers[user], nil
}

// approverList names the approvers in Slack mrkdwn.
func (a *Approver) approverList() string {
	var names []string
	for u := range a.users {
		names = append(names, "<@"+u+">")
	}
	for _, g := range a.groups {
		names = append(names, "<!subteam^"+g+">")
	}
	return strings.Join(names, ", ")
}

var _ judges.Judge = (*Approver)(nil)
