package gateway_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/wardproject/ward/proxy/gateway"
	"github.com/wardproject/ward/starlark/policy"
	"github.com/wardproject/ward/starlark/policytest"
)

// TestEveryBuiltinIsDocumented checks docs/policy.md against what policies
// and tests can actually call: each name must appear as "`name(".
func TestEveryBuiltinIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	add := func(prefix string, d starlark.StringDict) {
		for name, v := range d {
			switch v := v.(type) {
			case *starlarkstruct.Module:
				for member, mv := range v.Members {
					if _, ok := mv.(starlark.Callable); ok {
						names = append(names, prefix+name+"."+member)
					}
				}
			case starlark.Callable:
				names = append(names, prefix+name)
			}
		}
	}
	add("", policy.Universe())
	for _, p := range gateway.Protocols() {
		add("", p.Builtins)
	}
	names = append(names, policytest.HelperNames()...)
	slices.Sort(names)
	for _, name := range names {
		if !strings.Contains(string(doc), "`"+name+"(") {
			t.Errorf("docs/policy.md does not document %s (write it as `%s(...)`)", name, name)
		}
	}
}
