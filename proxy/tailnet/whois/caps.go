package whois

import (
	"bytes"
	"encoding/json"
	"fmt"

	"tailscale.com/tailcfg"
)

// MergeCaps merges the grants of one app capability, as tailscale's own
// apps do when several grants of the tailnet policy file apply to a peer:
// every grant must be a JSON object; the result maps each key to every
// value granted under it, in grant order, with arrays flattened and
// duplicates removed. Each value is compact JSON with object keys sorted.
//
// Grants {"endpoints": ["prod"], "max_rows": 100} and {"endpoints":
// ["prod", "staging"], "admin": true} merge to {"admin": [true],
// "endpoints": ["prod", "staging"], "max_rows": [100]}.
func MergeCaps(grants []tailcfg.RawMessage) (map[string][]json.RawMessage, error) {
	if len(grants) == 0 {
		return nil, nil
	}
	out := map[string][]json.RawMessage{}
	seen := map[string]map[string]bool{}
	for i, g := range grants {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(g), &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("grant %d is not a JSON object: %.80s", i, string(g))
		}
		for key, raw := range obj {
			vals, err := flatten(raw)
			if err != nil {
				return nil, fmt.Errorf("grant %d, key %q: %w", i, key, err)
			}
			if seen[key] == nil {
				seen[key] = map[string]bool{}
			}
			for _, v := range vals {
				if !seen[key][string(v)] {
					seen[key][string(v)] = true
					out[key] = append(out[key], v)
				}
			}
		}
	}
	return out, nil
}

// flatten returns the canonical elements of an array, or the value alone.
func flatten(raw json.RawMessage) ([]json.RawMessage, error) {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(t, &elems); err != nil {
			return nil, err
		}
		out := make([]json.RawMessage, 0, len(elems))
		for _, e := range elems {
			c, err := canonical(e)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	c, err := canonical(raw)
	if err != nil {
		return nil, err
	}
	return []json.RawMessage{c}, nil
}

// canonical re-encodes a JSON value compactly with sorted object keys and
// numbers as written.
func canonical(raw json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
