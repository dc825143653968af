package judges

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// ErrNotStrict marks an answer that is not exactly the JSON object asked
// for.
var ErrNotStrict = errors.New("not exactly the JSON object asked for")

// StrictObject reads data as exactly one JSON object whose members are
// strings named in fields (matched case-sensitively), each at most once,
// with nothing around it but white space. Go's own decoding is lenient
// where a judge's answer must not be: it matches keys in any case, keeps
// the last of repeated keys and ignores what follows the first value —
// each a way for the text to read one way to its sender and another to
// ward.
func StrictObject(data []byte, fields ...string) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(data)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrNotStrict)
	}
	out := map[string]string{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotStrict, err)
		}
		key, _ := k.(string)
		v, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotStrict, err)
		}
		val, ok := v.(string)
		switch {
		case !slices.Contains(fields, key):
			return nil, fmt.Errorf("%w: unexpected field %q", ErrNotStrict, key)
		case !ok:
			return nil, fmt.Errorf("%w: %s is not a string", ErrNotStrict, key)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%w: field %q appears twice", ErrNotStrict, key)
		}
		out[key] = val
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, fmt.Errorf("%w: %v", ErrNotStrict, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: text after the JSON object", ErrNotStrict)
	}
	return out, nil
}
