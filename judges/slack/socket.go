package slack

import (
	"context"
	"io"
	"log"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// socket is one Socket Mode connection, for one app token.
type socket struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *socket) stop() {
	s.cancel()
	<-s.done
}

// maxBackoff bounds the wait between reconnection attempts.
const maxBackoff = 30 * time.Second

// listen makes sure a Socket Mode connection runs for appToken.
func (h *Hub) listen(appToken, botToken string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sockets[appToken]; ok || h.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &socket{cancel: cancel, done: make(chan struct{})}
	h.sockets[appToken] = s
	go h.runSocket(ctx, s, appToken, botToken)
}

// runSocket keeps a Socket Mode connection up until the hub closes.
func (h *Hub) runSocket(ctx context.Context, s *socket, appToken, botToken string) {
	defer close(s.done)
	backoff := time.Second
	for ctx.Err() == nil {
		client := socketmode.New(h.client(botToken, slack.OptionAppLevelToken(appToken)),
			socketmode.OptionLog(log.New(io.Discard, "", 0)))
		evctx, stop := context.WithCancel(ctx)
		events := make(chan struct{})
		go func() { defer close(events); h.events(evctx, client, appToken) }()
		err := client.RunContext(ctx)
		stop()
		<-events
		if ctx.Err() != nil {
			return
		}
		h.logger.Warn("slack: Socket Mode connection lost; reconnecting (clicks wait until it is back)", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// events acknowledges what Slack sends and handles button presses.
func (h *Hub) events(ctx context.Context, client *socketmode.Client, appToken string) {
	for {
		var evt socketmode.Event
		select {
		case <-ctx.Done():
			return
		case evt = <-client.Events:
		}
		switch evt.Type {
		case socketmode.EventTypeConnected:
			h.logger.Info("slack: Socket Mode connected")
		case socketmode.EventTypeInvalidAuth:
			h.logger.Error("slack: Socket Mode refused the app token (invalid_auth); clicks cannot arrive over Socket Mode")
		case socketmode.EventTypeInteractive:
			if evt.Request != nil {
				if err := client.AckCtx(ctx, evt.Request.EnvelopeID, nil); err != nil {
					h.logger.Warn("slack: cannot acknowledge an interaction", "error", err)
				}
			}
			cb, ok := evt.Data.(slack.InteractionCallback)
			if !ok {
				continue
			}
			if c, ok := clickFrom(cb); ok {
				c.appToken = appToken
				go h.handle(context.Background(), c)
			}
		case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand:
			if evt.Request != nil {
				_ = client.AckCtx(ctx, evt.Request.EnvelopeID, nil)
			}
		}
	}
}
