// Package llm is the LLM judge: it asks a model behind any
// OpenAI-compatible chat-completions API whether an action may proceed,
// through github.com/sashabaranov/go-openai.
//
// The answer must be {"decision": "allow" | "deny", "reason": "…"}: the
// judge asks for it with a JSON-schema response format, falls back to plain
// output (still parsed strictly) when the server rejects that format, and
// denies on anything else — prose, a missing field, "Not allowed.".
package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/wardproject/ward/judges"
	"github.com/wardproject/ward/protocols/action"
)

// Config configures a Judge.
type Config struct {
	Model    string
	APIKey   string // resolved; empty sends none
	BaseURL  string // empty: OpenAI's
	Prompt   string // the operator's rule
	CacheTTL time.Duration
	// HTTPClient sends the requests; default a client without a timeout
	// of its own (each question has one).
	HTTPClient *http.Client
	// Mask scrubs secret values from prompts and from error text.
	Mask judges.Masker
	Now  func() time.Time // allow overriding time for tests
}

// Judge is an LLM judge.
type Judge struct {
	cfg    Config
	name   string
	client *openai.Client
	cache  cache
	// plain is set once the server has rejected the JSON-schema response
	// format; the judge then asks for plain output.
	plain atomic.Bool
}

// New returns a judge; it connects to nothing until asked.
func New(cfg Config) *Judge {
	oc := openai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		oc.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	}
	client := http.Client{}
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	}
	// A redirect is an answer (an error, denied), not a second place to
	// send the action and the key to.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	oc.HTTPClient = &client
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Judge{cfg: cfg, name: "llm:" + cfg.Model, client: openai.NewClientWithConfig(oc), cache: cache{ttl: cfg.CacheTTL}}
}

// Decide asks the model about req's action.
func (j *Judge) Decide(ctx context.Context, req judges.Request) judges.Outcome {
	start := j.cfg.Now()
	details := map[string]any{"model": j.cfg.Model}
	desc := judges.Describe(req, factsLimit)
	if desc.Cut {
		// The model would judge a prefix: whatever follows it (a statement
		// padded past the limit) would pass unseen.
		details["facts_bytes"] = desc.FactsSize
		return judges.Deny("error", fmt.Sprintf("%s: the action is too large to show the model whole (%d bytes of facts, at most %d)",
			j.name, desc.FactsSize, factsLimit), details)
	}
	user := j.cfg.Mask.Apply(userMessage(j.cfg.Prompt, j.cfg.Mask.Described(desc)))
	key := cacheKey(j.cfg.Model, j.cfg.Prompt, user)
	if c, ok := j.cache.get(key, start); ok {
		details["cached"] = true
		return j.verdict(c.allow, c.reason, details)
	}
	tctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	resp, err := j.ask(tctx, user)
	details["latency_us"] = j.cfg.Now().Sub(start).Microseconds()
	if err != nil {
		return j.failed(ctx, tctx, req, err, details)
	}
	details["prompt_tokens"] = resp.Usage.PromptTokens
	details["completion_tokens"] = resp.Usage.CompletionTokens
	details["total_tokens"] = resp.Usage.TotalTokens
	if len(resp.Choices) == 0 {
		return judges.Deny("error", j.name+" returned no answer", details)
	}
	content := resp.Choices[0].Message.Content
	allow, reason, err := parseAnswer(content)
	if err != nil {
		details["error"] = err.Error()
		details["answer_excerpt"] = j.cfg.Mask.Apply(excerpt(content))
		return judges.Deny("error", j.name+` gave an unreadable answer (want {"decision": "allow"|"deny", "reason": "…"})`, details)
	}
	j.cache.put(key, allow, reason, j.cfg.Now())
	details["decision"] = map[bool]string{true: "allow", false: "deny"}[allow]
	details["reason"] = reason
	return j.verdict(allow, reason, details)
}

func (j *Judge) verdict(allow bool, reason string, details map[string]any) judges.Outcome {
	if reason == "" {
		reason = "no reason given"
	}
	return judges.Outcome{Verdict: action.Verdict{Allowed: allow, Reason: j.cfg.Mask.Apply(reason), DecidedBy: j.name}, Details: details}
}

// ask sends the question, with the JSON-schema format unless the server
// has rejected it before (then, or now, it retries without).
func (j *Judge) ask(ctx context.Context, user string) (openai.ChatCompletionResponse, error) {
	structured := !j.plain.Load()
	resp, err := j.client.CreateChatCompletion(ctx, j.request(user, structured))
	if err != nil && structured && formatUnsupported(err) {
		j.plain.Store(true)
		resp, err = j.client.CreateChatCompletion(ctx, j.request(user, false))
	}
	return resp, err
}

func (j *Judge) request(user string, structured bool) openai.ChatCompletionRequest {
	r := openai.ChatCompletionRequest{
		Model: j.cfg.Model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: systemPrompt},
			{Role: openai.ChatMessageRoleUser, Content: user},
		},
	}
	if structured {
		r.ResponseFormat = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name: "ward_decision", Schema: answerSchema, Strict: true,
			},
		}
	}
	return r
}

// failed turns a request error into a denial that says what failed.
func (j *Judge) failed(parent, ctx context.Context, req judges.Request, err error, details map[string]any) judges.Outcome {
	details["error"] = j.cfg.Mask.Apply(err.Error())
	switch {
	case parent.Err() != nil:
		return judges.Deny("error", "cancelled: the agent went away", details)
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		if req.TimeoutReason != "" {
			return judges.Deny("timeout", req.TimeoutReason, details)
		}
		return judges.Deny("timeout", fmt.Sprintf("%s did not answer within %s", j.name, req.Timeout), details)
	}
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		return judges.Deny("error", j.cfg.Mask.Apply(fmt.Sprintf("%s failed: HTTP %d: %s", j.name, apiErr.HTTPStatusCode, apiErr.Message)), details)
	case errors.As(err, &reqErr):
		return judges.Deny("error", fmt.Sprintf("%s failed: HTTP %d", j.name, reqErr.HTTPStatusCode), details)
	}
	return judges.Deny("error", fmt.Sprintf("%s is unreachable", j.name), details)
}

// formatUnsupported reports whether the server rejected the response
// format (servers without structured output answer 400 naming it).
func formatUnsupported(err error) bool {
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		p := ""
		if apiErr.Param != nil {
			p = *apiErr.Param
		}
		return apiErr.HTTPStatusCode == http.StatusBadRequest &&
			(p == "response_format" || strings.Contains(apiErr.Message, "response_format") || strings.Contains(apiErr.Message, "json_schema"))
	}
	var reqErr *openai.RequestError
	if errors.As(err, &reqErr) {
		return reqErr.HTTPStatusCode == http.StatusBadRequest && strings.Contains(string(reqErr.Body), "response_format")
	}
	return false
}

func cacheKey(model, prompt, user string) string {
	h := sha256.New()
	for _, s := range []string{model, systemPrompt, prompt, user} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

var _ judges.Judge = (*Judge)(nil)
