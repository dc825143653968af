package builtins

import (
	"fmt"
	"regexp"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// NewRe returns the re module: regular expressions with Go's RE2 syntax,
// which runs in time linear in the input (no catastrophic backtracking).
// Compiled patterns are cached for the life of the module.
//
//	def re.match(pattern, s):     # True if the pattern matches at the start of s
//	def re.search(pattern, s):    # True if the pattern matches anywhere in s
//	def re.fullmatch(pattern, s): # True if the pattern matches all of s
//	def re.find(pattern, s):      # the first match's groups as a tuple (the whole match first), or None
//	def re.findall(pattern, s):   # every non-overlapping match, as a list of strings
//	def re.sub(pattern, repl, s): # s with every match replaced; $1 / ${name} expand groups
//	def re.split(pattern, s):     # s split around matches
func NewRe() *starlarkstruct.Module {
	r := &reModule{cache: make(map[string]*regexp.Regexp)}
	return &starlarkstruct.Module{
		Name: "re",
		Members: starlark.StringDict{
			"match":     starlark.NewBuiltin("re.match", r.match),
			"search":    starlark.NewBuiltin("re.search", r.search),
			"fullmatch": starlark.NewBuiltin("re.fullmatch", r.fullmatch),
			"find":      starlark.NewBuiltin("re.find", r.find),
			"findall":   starlark.NewBuiltin("re.findall", r.findall),
			"sub":       starlark.NewBuiltin("re.sub", r.sub),
			"split":     starlark.NewBuiltin("re.split", r.split),
		},
	}
}

// maxCachedPatterns bounds the cache of a policy that builds patterns from
// request data.
const maxCachedPatterns = 1024

type reModule struct {
	mu    sync.Mutex
	cache map[string]*regexp.Regexp
}

func (r *reModule) compile(fn, pattern string) (*regexp.Regexp, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if re, ok := r.cache[pattern]; ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", fn, err)
	}
	if len(r.cache) >= maxCachedPatterns {
		clear(r.cache)
	}
	r.cache[pattern] = re
	return re, nil
}

// unpack reads (pattern, s) and compiles the pattern.
func (r *reModule) unpack(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*regexp.Regexp, string, error) {
	var pattern, s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "s", &s); err != nil {
		return nil, "", err
	}
	re, err := r.compile(b.Name(), pattern)
	return re, s, err
}

func (r *reModule) match(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	re, s, err := r.unpack(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	loc := re.FindStringIndex(s)
	return starlark.Bool(loc != nil && loc[0] == 0), nil
}

func (r *reModule) search(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	re, s, err := r.unpack(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.Bool(re.MatchString(s)), nil
}

func (r *reModule) fullmatch(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pattern, s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "s", &s); err != nil {
		return nil, err
	}
	re, err := r.compile(b.Name(), `^(?:`+pattern+`)$`)
	if err != nil {
		return nil, err
	}
	return starlark.Bool(re.MatchString(s)), nil
}

func (r *reModule) find(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	re, s, err := r.unpack(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	m := re.FindStringSubmatch(s)
	if m == nil {
		return starlark.None, nil
	}
	groups := make(starlark.Tuple, len(m))
	for i, g := range m {
		groups[i] = starlark.String(g)
	}
	return groups, nil
}

func (r *reModule) findall(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	re, s, err := r.unpack(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return stringList(re.FindAllString(s, -1)), nil
}

func (r *reModule) sub(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pattern, repl, s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "repl", &repl, "s", &s); err != nil {
		return nil, err
	}
	re, err := r.compile(b.Name(), pattern)
	if err != nil {
		return nil, err
	}
	return starlark.String(re.ReplaceAllString(s, repl)), nil
}

func (r *reModule) split(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	re, s, err := r.unpack(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return stringList(re.Split(s, -1)), nil
}

func stringList(ss []string) *starlark.List {
	elems := make([]starlark.Value, len(ss))
	for i, s := range ss {
		elems[i] = starlark.String(s)
	}
	return starlark.NewList(elems)
}
