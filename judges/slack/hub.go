// Package slack is the Slack approval judge: an Approver posts each action
// it is asked about as a Block Kit message with Approve and Deny buttons
// and waits, through the durable approval queue, for a click by one of its
// approvers. Clicks come back over Socket Mode or the signed HTTP
// interactivity endpoint; both end in the Hub, which routes a click to the
// approval its button names. Built on github.com/slack-go/slack.
package slack

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/wardproject/ward/judges/approval"
	"github.com/wardproject/ward/proxy/audit"
)

// apiTimeout bounds one Slack API call.
const apiTimeout = 15 * time.Second

// Hub is the gateway's Slack side, shared by every approver: it knows
// which approval each pending message belongs to and who may decide it.
type Hub struct {
	queue  *approval.Queue
	logger *slog.Logger
	// APIURL is Slack's Web API base URL ("https://slack.com/api/"); tests
	// point it at slacktest.
	APIURL string
	// HTTPClient sends Web API requests; default http.DefaultClient.
	HTTPClient *http.Client

	mu      sync.Mutex
	pending map[string]*pending // by approval ID
	sockets map[string]*socket  // by app token
	closed  bool
	updates sync.WaitGroup // message updates in flight
}

// pending is an approval message waiting for a click.
type pending struct {
	approver *Approver
	channel  string // as configured; clicks carry the channel's ID
}

// ref is what the approval row keeps about its message, so that it can be
// updated after a restart.
type ref struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// NewHub returns a hub deciding through queue.
func NewHub(queue *approval.Queue, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.Default()
	}
	return &Hub{queue: queue, logger: logger, pending: map[string]*pending{}, sockets: map[string]*socket{}}
}

func (h *Hub) client(token string, opts ...slack.Option) *slack.Client {
	if h.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(h.APIURL))
	}
	if h.HTTPClient != nil {
		opts = append(opts, slack.OptionHTTPClient(h.HTTPClient))
	}
	return slack.New(token, opts...)
}

func (h *Hub) register(id string, p *pending) {
	h.mu.Lock()
	h.pending[id] = p
	h.mu.Unlock()
}

func (h *Hub) unregister(id string) {
	h.mu.Lock()
	delete(h.pending, id)
	h.mu.Unlock()
}

func (h *Hub) lookup(id string) *pending {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pending[id]
}

// click is one Approve or Deny press, from either transport.
type click struct {
	approvalID string
	approve    bool
	user       string // Slack user ID
	userName   string
	channel    string
	// signingSecret is the secret that verified an HTTP click; empty for
	// Socket Mode, where the app token authenticated the connection.
	signingSecret string
	appToken      string
}

// clickFrom reads the ward button press out of an interaction payload, if
// it holds one.
func clickFrom(cb slack.InteractionCallback) (click, bool) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return click{}, false
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil || (a.ActionID != actionApprove && a.ActionID != actionDeny) {
			continue
		}
		ch := cb.Channel.ID
		if ch == "" {
			ch = cb.Container.ChannelID
		}
		return click{approvalID: a.Value, approve: a.ActionID == actionApprove, user: cb.User.ID,
			userName: cb.User.Name, channel: ch}, true
	}
	return click{}, false
}

// handle decides the approval a click names, if the clicking user may.
func (h *Hub) handle(ctx context.Context, c click) {
	p := h.lookup(c.approvalID)
	if p == nil {
		h.logger.Info("slack: click for an approval that is not pending here", "approval", c.approvalID, "user", c.user)
		return
	}
	a := p.approver
	if (c.signingSecret != "" && c.signingSecret != a.signingSecret) || (c.appToken != "" && c.appToken != a.appToken) {
		h.logger.Warn("slack: click from another Slack app ignored", "approval", c.approvalID, "user", c.user)
		return
	}
	if c.user == "" {
		return
	}
	ok, err := a.mayDecide(ctx, c.user)
	if err != nil {
		h.logger.Warn("slack: cannot check approvers; click ignored", "approval", c.approvalID, "user", c.user, "error", err)
		a.ephemeral(ctx, c.where(p), c.user, "ward could not check whether you may decide this approval; try again.")
		return
	}
	if !ok {
		h.logger.Warn("slack: click by a user who is not an approver", "approval", c.approvalID, "user", c.user, "judge", a.name)
		a.ephemeral(ctx, c.where(p), c.user, "You are not allowed to decide this request: only "+a.approverList()+" can. It keeps waiting.")
		return
	}
	state, reason := audit.ApprovalDenied, "denied in Slack by "+nameOf(c)
	if c.approve {
		state, reason = audit.ApprovalAllowed, "approved in Slack by "+nameOf(c)
	}
	if _, decided, err := h.queue.Decide(c.approvalID, state, "slack:"+c.user, reason); err != nil {
		h.logger.Error("slack: cannot record the decision", "approval", c.approvalID, "error", err)
		a.ephemeral(ctx, c.where(p), c.user, "ward could not record your decision; the request stays pending.")
	} else if !decided {
		a.ephemeral(ctx, c.where(p), c.user, "This request was already decided.")
	}
}

// where is the channel to answer a click in: the one it came from.
func (c click) where(p *pending) string {
	if c.channel != "" {
		return c.channel
	}
	return p.channel
}

func nameOf(c click) string {
	if c.userName != "" {
		return "@" + c.userName
	}
	return c.user
}

// Recovered updates the messages of approvals that a previous run of the
// gateway left pending and that were closed on start; approvers are the
// ones now declared, matched by judge name.
func (h *Hub) Recovered(ctx context.Context, closed []audit.Approval, approvers []*Approver) {
	for _, a := range closed {
		var r ref
		if len(a.Ref) == 0 || json.Unmarshal(a.Ref, &r) != nil || r.TS == "" {
			continue
		}
		for _, ap := range approvers {
			if ap.name == a.Judge {
				ap.update(ctx, r.Channel, r.TS, a)
				break
			}
		}
	}
}

// later runs f (a message update) in the background; Close waits for it.
// Once the hub is closed, f runs before later returns.
func (h *Hub) later(f func()) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		f()
		return
	}
	h.updates.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.updates.Done()
		f()
	}()
}

// Close stops the Socket Mode connections and waits for the message
// updates in flight (each bounded by the Slack API timeout).
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	sockets := h.sockets
	h.sockets = map[string]*socket{}
	h.mu.Unlock()
	for _, s := range sockets {
		s.stop()
	}
	h.updates.Wait()
	return nil
}
