package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/wardproject/ward/protocols/action"
	"github.com/wardproject/ward/proxy/audit"
)

// shown is the text of a message's blocks, as Slack renders it (entities
// decoded).
func shown(blocks []slack.Block) string {
	var b strings.Builder
	for _, bl := range blocks {
		switch bl := bl.(type) {
		case *slack.SectionBlock:
			b.WriteString(bl.Text.Text)
		case *slack.ContextBlock:
			for _, e := range bl.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					b.WriteString(t.Text)
				}
			}
		}
		b.WriteString("\n")
	}
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(b.String())
}

// A statement padded past what a message shows must not hide its tail
// from the approver: the parsed facts (verbs, tables, writes) stay
// visible, and the message says that parts are cut.
func TestLongActionKeepsItsFactsVisible(t *testing.T) {
	sql := "SELECT 1 /* " + strings.Repeat("x", 5000) + " */; DROP TABLE users"
	facts, _ := json.Marshal(map[string]any{"sql": sql, "verbs": []string{"select", "drop"}, "tables": []string{"users"}, "writes": true})
	a := audit.Approval{ID: "p1", ActionID: "a1", Judge: "slack:#ops", Protocol: "postgres", Endpoint: "prod",
		Agent: action.Agent{Name: "bot"}, Summary: sql[:200] + "…", Facts: facts, State: audit.ApprovalPending}
	text := shown(messageBlocks(a, "", nil))
	for _, want := range []string{`"drop"`, `"writes": true`, `"users"`, "DROP TABLE users", "cut"} {
		if !strings.Contains(text, want) {
			t.Errorf("the approver cannot see %q in:\n%.600s", want, text)
		}
	}
}

// Secrets are masked before the text is escaped, shortened or encoded:
// masking after would miss a secret holding '&', '<' or '"', and leave
// the start of one cut in half.
func TestMaskBeforeEscaping(t *testing.T) {
	const secret = `p"ss<w>rd&1`
	mask := func(s string) string { return strings.ReplaceAll(s, secret, "[redacted]") }
	facts, _ := json.Marshal(map[string]any{"sql": "SELECT '" + secret + "'"})
	a := audit.Approval{ID: "p1", ActionID: "a1", Judge: "slack:#ops", Protocol: "postgres", Endpoint: "prod",
		Agent: action.Agent{Name: "bot"}, Summary: "SELECT '" + secret + "'", Note: "n " + secret, Facts: facts, State: audit.ApprovalPending}
	text := shown(messageBlocks(a, "", mask)) + fallbackText(a, mask)
	for _, leak := range []string{secret, `p\"ss`, `\u003cw`, "p\"ss"} {
		if strings.Contains(text, leak) {
			t.Fatalf("secret leaked as %q:\n%s", leak, text)
		}
	}
	if strings.Count(text, "[redacted]") < 3 {
		t.Errorf("masked %d times:\n%s", strings.Count(text, "[redacted]"), text)
	}
}
