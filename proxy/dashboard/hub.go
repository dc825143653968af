package dashboard

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wardproject/ward/proxy/audit"
)

// subscriberBuffer is how many events (a poll's new actions are one) a slow
// event stream may fall behind before it is dropped; the browser then
// reconnects and replays from the store, so nothing is lost.
const subscriberBuffer = 64

// maxSubscribers bounds the open event streams.
const maxSubscribers = 100

// hub watches the audit store for new actions (and, with approvals, for
// changes to the pending approvals) while anyone is subscribed, and fans
// them out. Watching the store rather than the gateway's engine means
// every row has its sequence number, decisions made by other processes
// show up too, and a reconnecting browser can replay what it missed.
type hub struct {
	store  Store
	poll   time.Duration
	logger *slog.Logger
	done   <-chan struct{}

	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	running bool
	last    int64 // the newest Seq published
	nudge   chan struct{}
	extra   []watcher
}

// watcher is an extra source the hub polls on each tick (the approvals).
type watcher func(ctx context.Context, publish func(event))

// event is one thing a subscriber receives: new actions, or a change.
type event struct {
	rows []row  // new actions, in Seq order; shared, read-only
	kind string // "" for actions; otherwise the name of the change
	data any
}

type subscriber struct {
	ch chan event
}

func newHub(store Store, poll time.Duration, logger *slog.Logger, done <-chan struct{}) *hub {
	return &hub{store: store, poll: poll, logger: logger, done: done, subs: map[*subscriber]struct{}{}, nudge: make(chan struct{}, 1)}
}

// watch adds a source polled with the store.
func (h *hub) watch(w watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.extra = append(h.extra, w)
}

// subscribe adds a subscriber. Every record loaded after subscribe
// returns reaches it, so a caller that then replays from the store (and
// skips what it replayed) misses nothing.
func (h *hub) subscribe(ctx context.Context) (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= maxSubscribers {
		return nil, errorf(503, "too many open dashboards (%d); close some", maxSubscribers)
	}
	if !h.running {
		recs, err := h.store.List(ctx, audit.Filter{Newest: true, Limit: 1})
		if err != nil {
			return nil, err
		}
		h.last = 0
		if len(recs) == 1 {
			h.last = recs[0].Seq
		}
		h.running = true
		go h.run()
	}
	s := &subscriber{ch: make(chan event, subscriberBuffer)}
	h.subs[s] = struct{}{}
	return s, nil
}

// unsubscribe removes s; it is safe to call after s was dropped.
func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// poke makes the hub look now rather than at the next tick.
func (h *hub) poke() {
	select {
	case h.nudge <- struct{}{}:
	default:
	}
}

// run polls until nobody is subscribed.
func (h *hub) run() {
	t := time.NewTicker(h.poll)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			h.stop()
			return
		case <-t.C:
		case <-h.nudge:
		}
		h.mu.Lock()
		if len(h.subs) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		extra := h.extra
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h.pollRecords(ctx)
		for _, w := range extra {
			w(ctx, h.publish)
		}
		cancel()
	}
}

// pollRecords publishes the records loaded since the last poll.
func (h *hub) pollRecords(ctx context.Context) {
	for {
		recs, err := h.store.List(ctx, audit.Filter{AfterSeq: h.last, Limit: 500})
		if err != nil {
			h.logger.Warn("dashboard: cannot read new actions", "error", err)
			return
		}
		if len(recs) == 0 {
			return
		}
		rows := make([]row, len(recs))
		for i := range recs {
			rows[i] = rowOf(&recs[i])
		}
		h.publish(event{rows: rows})
		h.last = recs[len(recs)-1].Seq
		if len(recs) < 500 {
			return
		}
	}
}

// publish hands ev to every subscriber; one that is too far behind is
// dropped (its stream ends and the browser reconnects).
func (h *hub) publish(ev event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.ch <- ev:
		default:
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

// stop drops every subscriber.
func (h *hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
	h.running = false
}
