package builtins

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// WebhookSpec is what webhook.approver declares.
type WebhookSpec struct {
	URL    string
	Secret *Secret // the HMAC-SHA256 key, shared with the receiver
}

// Webhook is the webhook module.
//
//	def webhook.approver(url, secret, timeout = "10m"):
//
// webhook.approver declares a judge that POSTs each action it is asked
// about to url as JSON signed with HMAC-SHA256 under secret. The decision
// comes back in the response, or later on the gateway's callback port,
// signed the same way (see docs/judges.md for the wire format). No
// decision within timeout is a denial.
var Webhook = &starlarkstruct.Module{
	Name:    "webhook",
	Members: starlark.StringDict{"approver": starlark.NewBuiltin("webhook.approver", newWebhookApprover)},
}

func newWebhookApprover(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		spec    WebhookSpec
		timeout durationArg
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "url", &spec.URL, "secret", &spec.Secret, "timeout?", &timeout); err != nil {
		return nil, err
	}
	u, err := checkURL(spec.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: url %v", b.Name(), err)
	}
	j := &Judge{Kind: "webhook", Name: "webhook:" + displayURL(u), Timeout: timeout.or(DefaultApprovalTimeout), Webhook: &spec}
	return declareJudge(thread, b, j)
}
