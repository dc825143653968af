package policy

import (
	"slices"

	"go.starlark.net/starlark"
)

// StringTuple is ss as a Starlark tuple, for facts.
func StringTuple(ss []string) starlark.Tuple {
	t := make(starlark.Tuple, len(ss))
	for i, s := range ss {
		t[i] = starlark.String(s)
	}
	return t
}

// StringDict is m as a frozen Starlark dict with sorted keys, for facts.
func StringDict(m map[string]string) *starlark.Dict {
	d := starlark.NewDict(len(m))
	for _, k := range sortedKeys(m) {
		_ = d.SetKey(starlark.String(k), starlark.String(m[k]))
	}
	d.Freeze()
	return d
}

// StringListDict is m as a frozen Starlark dict of lists with sorted
// keys, for facts such as a query string or selectors.
func StringListDict(m map[string][]string) *starlark.Dict {
	d := starlark.NewDict(len(m))
	for _, k := range sortedKeys(m) {
		vals := make([]starlark.Value, len(m[k]))
		for i, v := range m[k] {
			vals[i] = starlark.String(v)
		}
		_ = d.SetKey(starlark.String(k), starlark.NewList(vals))
	}
	d.Freeze()
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
