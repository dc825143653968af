package slack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/proxy/audit"
)

// Block Kit identifiers of the approval buttons. The button's value is
// the approval ID.
const (
	blockID       = "ward_approval"
	actionApprove = "ward_approve"
	actionDeny    = "ward_deny"
)

// sectionLimit keeps a section's text under Slack's 3000 characters.
const sectionLimit = 2800

// messageBlocks renders an approval request. outcome is empty while it is
// pending (the message then carries the buttons), or the line that says
// how it ended.
func messageBlocks(a audit.Approval, outcome string, mask judges.Masker) []slack.Block {
	// Mask the agent's text before it is escaped, shortened or encoded.
	a.Agent.Name, a.Agent.User, a.Endpoint = mask.Apply(a.Agent.Name), mask.Apply(a.Agent.User), mask.Apply(a.Endpoint)
	a.Summary, a.Note = mask.Apply(a.Summary), mask.Apply(a.Note)
	title := ":warning: ward: approval needed"
	if outcome != "" {
		title = "ward: approval request"
	}
	summary, cut := codeBlock(a.Summary)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, title, false, false)),
		section(fmt.Sprintf("*%s* (user %s) wants to act on *%s* (%s)",
			escape(a.Agent.Name), escape(a.Agent.User), escape(a.Endpoint), escape(a.Protocol)), mask),
		section(summary, mask),
	}
	if a.Note != "" {
		blocks = append(blocks, section("*Note from the policy:* "+escape(truncate(a.Note, sectionLimit-40)), mask))
	}
	if facts, shortened := prettyFacts(a.Facts, mask); facts != "" {
		block, cutFacts := codeBlock(facts)
		blocks = append(blocks, section("*Facts*\n"+block, mask))
		if shortened || cutFacts {
			blocks = append(blocks, section(":warning: *Parts of this action are cut* (marked …): it is longer than a Slack "+
				"message can show. The whole action is in the gateway's approval queue (`ward approvals --json`).", mask))
		}
	} else if cut {
		blocks = append(blocks, section(":warning: *The statement is cut* (marked …): it is longer than a Slack message can show.", mask))
	}
	ctx := fmt.Sprintf("approval `%s` · action `%s` · %s", a.ID, a.ActionID, a.Judge)
	if outcome == "" {
		ctx += fmt.Sprintf(" · denied automatically at %s (in %s)", a.Expires.UTC().Format("15:04:05 UTC"),
			a.Expires.Sub(a.Created).Round(time.Second))
		blocks = append(blocks,
			slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, ctx, false, false)),
			slack.NewActionBlock(blockID,
				slack.NewButtonBlockElement(actionApprove, a.ID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary),
				slack.NewButtonBlockElement(actionDeny, a.ID, slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false)).WithStyle(slack.StyleDanger),
			))
		return blocks
	}
	return append(blocks,
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, ctx, false, false)),
		section(outcome, mask))
}

// fallbackText is the notification text of the message.
func fallbackText(a audit.Approval, mask judges.Masker) string {
	return truncate(mask.Apply(fmt.Sprintf("ward: %s asks to %s", a.Agent.Name, a.Summary)), 300)
}

// outcomeLine says how a decided approval ended.
func outcomeLine(a audit.Approval) string {
	who := a.DecidedBy
	if id, ok := strings.CutPrefix(who, "slack:"); ok {
		who = "<@" + id + ">"
	} else {
		who = escape(who)
	}
	switch a.State {
	case audit.ApprovalAllowed:
		return ":white_check_mark: *Approved* by " + who + withReason(a.Reason)
	case audit.ApprovalTimedOut:
		return ":hourglass: *Timed out — denied*"
	case audit.ApprovalCancelled:
		return ":no_entry_sign: *Cancelled — the agent went away*"
	}
	if a.DecidedBy == "gateway" {
		return ":no_entry: *" + escape(capitalize(a.Reason)) + " — denied*"
	}
	return ":no_entry: *Denied* by " + who + withReason(a.Reason)
}

func withReason(r string) string {
	if r == "" || strings.HasPrefix(r, "approved in Slack") || strings.HasPrefix(r, "denied in Slack") {
		return ""
	}
	return ": " + escape(r)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func section(text string, mask judges.Masker) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, mask.Apply(text), false, false), nil, nil)
}

// codeBlock shows s verbatim in a code block, cut to fit a section; it
// reports whether it cut.
func codeBlock(s string) (string, bool) {
	s = escape(strings.ReplaceAll(s, "```", "`\u200b``"))
	cut := len(s) > sectionLimit-10
	if cut {
		s = s[:sectionLimit-10]
		if i := strings.LastIndexByte(s, '&'); i >= 0 && !strings.Contains(s[i:], ";") {
			s = s[:i] // do not cut an entity in half
		}
		s = strings.ToValidUTF8(s, "") + "…"
	}
	return "```" + s + "```", cut
}

// escape makes s safe as Slack mrkdwn text: &, < and > are control
// characters there (links, mentions).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cutMiddle keeps the start and the end of s, about n bytes in all: what
// a padded statement puts after its padding stays in view.
func cutMiddle(s string, n int) string {
	head, tail := n*2/3, n/3
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	t := len(s) - tail
	for t < len(s) && !utf8.RuneStart(s[t]) {
		t++
	}
	return s[:head] + fmt.Sprintf(" …(%d bytes cut)… ", t-head) + s[t:]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// prettyFacts renders facts as indented JSON with secrets masked in
// each string. Long strings (a padded statement) are shortened, more
// and more until the whole fits a section, so that the parsed facts after
// them (verbs, tables, writes) stay visible; it reports whether it
// shortened any.
func prettyFacts(facts json.RawMessage, mask judges.Masker) (string, bool) {
	if len(facts) == 0 {
		return "", false
	}
	var out string
	shortened := false
	for _, limit := range []int{1000, 300, 80} {
		shortened = false
		doc, err := judges.MapStrings(facts, func(s string) string {
			s = mask.Apply(s)
			if len(s) > limit {
				shortened = true
				return cutMiddle(s, limit)
			}
			return s
		})
		if err != nil {
			return mask.Apply(string(facts)), false
		}
		var b bytes.Buffer
		if json.Indent(&b, doc, "", "  ") != nil {
			return mask.Apply(string(facts)), false
		}
		out = b.String()
		if len(escape(out)) <= sectionLimit-10 {
			break
		}
	}
	return out, shortened
}
