package builtins

import (
	"fmt"
	"regexp"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// SlackSpec is what slack.approver declares.
type SlackSpec struct {
	Channel       string // "#agent-ops" or a channel ID
	BotToken      *Secret
	AppToken      *Secret // Socket Mode; nil without
	SigningSecret *Secret // HTTP interactivity; nil without
	Approvers     []string
}

// DefaultApprovalTimeout is how long human approvals wait by default.
const DefaultApprovalTimeout = 10 * time.Minute

var (
	slackApprover = regexp.MustCompile(`^[UWS][A-Z0-9]{2,}$`)
	slackChannel  = regexp.MustCompile(`^(#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{2,})$`)
)

// Slack is the slack module.
//
//	def slack.approver(channel, bot_token, approvers, app_token = None,
//	                   signing_secret = None, timeout = "10m"):
//
// slack.approver declares a judge that posts each action it is asked about
// to channel with Approve and Deny buttons, and waits for a click by one of
// approvers (Slack user IDs "U…"/"W…" or user group IDs "S…"). Clicks come
// back over Socket Mode (app_token, an "xapp-" token) or over the gateway's
// HTTP interactivity endpoint verified with signing_secret; give at least
// one. bot_token, app_token and signing_secret are secrets. No decision
// within timeout is a denial.
var Slack = &starlarkstruct.Module{
	Name:    "slack",
	Members: starlark.StringDict{"approver": starlark.NewBuiltin("slack.approver", newSlackApprover)},
}

func newSlackApprover(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		spec                    SlackSpec
		approvers               starlark.Value
		appToken, signingSecret starlark.Value = starlark.None, starlark.None
		timeout                 durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "channel", &spec.Channel, "bot_token", &spec.BotToken,
		"approvers", &approvers, "app_token?", &appToken, "signing_secret?", &signingSecret, "timeout?", &timeout); err != nil {
		return nil, err
	}
	if !slackChannel.MatchString(spec.Channel) {
		return nil, fmt.Errorf("%s: channel %q must be \"#name\" or a channel ID such as \"C0123ABCD\"", b.Name(), spec.Channel)
	}
	list, err := stringListArg("approvers", approvers)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: approvers is empty: nobody could approve anything", b.Name())
	}
	for _, a := range list {
		if !slackApprover.MatchString(a) {
			return nil, fmt.Errorf("%s: approver %q is not a Slack user ID (\"U…\", \"W…\") or user group ID (\"S…\")", b.Name(), a)
		}
	}
	spec.Approvers = list
	if spec.AppToken, err = optionalSecret(b, "app_token", appToken); err != nil {
		return nil, err
	}
	if spec.SigningSecret, err = optionalSecret(b, "signing_secret", signingSecret); err != nil {
		return nil, err
	}
	if spec.AppToken == nil && spec.SigningSecret == nil {
		return nil, fmt.Errorf("%s: give app_token (Socket Mode) or signing_secret (HTTP interactivity): without either, clicks never reach the gateway", b.Name())
	}
	j := &Judge{Kind: "slack", Name: "slack:" + spec.Channel, Timeout: timeout.or(DefaultApprovalTimeout), Slack: &spec}
	return declareJudge(thread, b, j)
}

func optionalSecret(b *starlark.Builtin, name string, v starlark.Value) (*Secret, error) {
	switch s := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case *Secret:
		return s, nil
	}
	return nil, fmt.Errorf("%s: %s must be a secret (secrets.env(...), vault.kv(...)), got %s", b.Name(), name, v.Type())
}
