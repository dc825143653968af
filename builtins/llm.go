package builtins

import (
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// LLMSpec is what llm.judge declares.
type LLMSpec struct {
	Model    string
	APIKey   *Secret // nil: no Authorization header (a local server)
	BaseURL  string  // empty: OpenAI's
	Prompt   string  // the operator's rule
	CacheTTL time.Duration
}

// Defaults of llm.judge.
const (
	DefaultLLMTimeout  = 20 * time.Second
	DefaultLLMCacheTTL = 5 * time.Minute
)

// LLM is the llm module.
//
//	def llm.judge(model, prompt, api_key = None, base_url = None,
//	              timeout = "20s", cache_ttl = "5m"):
//
// llm.judge declares a judge that asks a model behind any OpenAI-compatible
// chat-completions API (OpenAI, Azure, vLLM, Ollama, LiteLLM through
// base_url). ward's own system prompt frames the task, prompt states the
// operator's rule, and the action's facts go in as JSON. The model must
// answer {"decision": "allow" | "deny", "reason": "..."}; anything else is a
// denial. Identical questions within cache_ttl reuse the answer (0
// disables the cache). api_key is a secret.
var LLM = &starlarkstruct.Module{
	Name:    "llm",
	Members: starlark.StringDict{"judge": starlark.NewBuiltin("llm.judge", newLLMJudge)},
}

func newLLMJudge(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		spec              LLMSpec
		apiKey            starlark.Value = starlark.None
		baseURL           starlark.Value = starlark.None
		timeout, cacheTTL durationArg
		cacheOff          bool
	)
	cacheArg := starlark.Value(nil)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "model", &spec.Model, "prompt", &spec.Prompt,
		"api_key?", &apiKey, "base_url?", &baseURL, "timeout?", &timeout, "cache_ttl?", &cacheArg); err != nil {
		return nil, err
	}
	if cacheArg != nil {
		if n, ok := cacheArg.(starlark.Int); ok && n.Sign() == 0 {
			cacheOff = true
		} else if err := cacheTTL.Unpack(cacheArg); err != nil {
			return nil, fmt.Errorf("%s: cache_ttl: %v", b.Name(), err)
		}
	}
	if strings.TrimSpace(spec.Model) == "" {
		return nil, fmt.Errorf("%s: model must not be empty", b.Name())
	}
	if strings.TrimSpace(spec.Prompt) == "" {
		return nil, fmt.Errorf("%s: prompt must state the rule the model applies", b.Name())
	}
	switch k := apiKey.(type) {
	case starlark.NoneType:
	case *Secret:
		spec.APIKey = k
	default:
		return nil, fmt.Errorf("%s: api_key must be a secret (secrets.env(...), vault.kv(...)), got %s", b.Name(), apiKey.Type())
	}
	if baseURL != starlark.None {
		s, ok := starlark.AsString(baseURL)
		if !ok {
			return nil, fmt.Errorf("%s: base_url must be a string", b.Name())
		}
		if _, err := checkURL(s); err != nil {
			return nil, fmt.Errorf("%s: base_url %v", b.Name(), err)
		}
		spec.BaseURL = s
	}
	spec.CacheTTL = cacheTTL.or(DefaultLLMCacheTTL)
	if cacheOff {
		spec.CacheTTL = 0
	}
	j := &Judge{Kind: "llm", Name: "llm:" + spec.Model, Timeout: timeout.or(DefaultLLMTimeout), LLM: &spec}
	return declareJudge(thread, b, j)
}
