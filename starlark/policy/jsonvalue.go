package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"go.starlark.net/starlark"
)

// ErrAmbiguousJSON marks JSON that servers could read in different ways or
// that is too deep to show a hook. An object that repeats a key is
// ambiguous (parsers keep the first or the last), and so is one whose keys
// differ only in case: Go's encoding/json, among others, matches fields
// case-insensitively.
var ErrAmbiguousJSON = errors.New("ambiguous JSON")

// maxJSONDepth bounds nesting so that a hostile body cannot exhaust the
// stack.
const maxJSONDepth = 200

// JSONValue converts a JSON document to a frozen Starlark value: objects to
// dicts, arrays to lists, numbers to int or float. It returns (None, nil)
// when data is not JSON, and an error wrapping ErrAmbiguousJSON when it is
// JSON that a hook cannot be shown faithfully (duplicate keys, too deep).
func JSONValue(data []byte) (starlark.Value, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || !json.Valid(data) {
		return starlark.None, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return nil, err
	}
	v.Freeze()
	return v, nil
}

func jsonValue(dec *json.Decoder, depth int) (starlark.Value, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrAmbiguousJSON, maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			return jsonArray(dec, depth)
		}
		return jsonObject(dec, depth)
	case string:
		return starlark.String(tok), nil
	case json.Number:
		return jsonNumber(tok)
	case bool:
		return starlark.Bool(tok), nil
	case nil:
		return starlark.None, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func jsonArray(dec *json.Decoder, depth int) (starlark.Value, error) {
	var elems []starlark.Value
	for dec.More() {
		v, err := jsonValue(dec, depth+1)
		if err != nil {
			return nil, err
		}
		elems = append(elems, v)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, err
	}
	return starlark.NewList(elems), nil
}

func jsonObject(dec *json.Decoder, depth int) (starlark.Value, error) {
	d := starlark.NewDict(4)
	folded := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		v, err := jsonValue(dec, depth+1)
		if err != nil {
			return nil, err
		}
		fold := strings.ToLower(strings.ToUpper(key))
		if folded[fold] {
			return nil, fmt.Errorf("%w: key %q appears twice in one object (ignoring case)", ErrAmbiguousJSON, key)
		}
		folded[fold] = true
		if err := d.SetKey(starlark.String(key), v); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	return d, nil
}

func jsonNumber(n json.Number) (starlark.Value, error) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, ok := new(big.Int).SetString(s, 10); ok {
			return starlark.MakeBigInt(i), nil
		}
	}
	f, err := n.Float64()
	if err != nil {
		return nil, fmt.Errorf("JSON number %s: %w", s, err)
	}
	return starlark.Float(f), nil
}
