package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendEntry appends e as one journal line, ending in '\n'. It writes the
// same JSON as encoding/json would for Entry (without HTML escaping), by
// hand: journal lines are written for every action, and the reflection and
// re-validation of embedded JSON cost more than the write itself. Embedded
// JSON (facts, raw, details) must be valid; it is compacted.
func appendEntry(b []byte, e Entry) ([]byte, error) {
	switch {
	case e.Record != nil:
		b = append(b, `{"record":`...)
		var err error
		if b, err = appendRecord(b, e.Record); err != nil {
			return nil, err
		}
	case e.Completion != nil:
		b = append(b, `{"completion":`...)
		b = appendCompletion(b, e.Completion)
	default:
		return nil, fmt.Errorf("empty journal entry")
	}
	return append(b, "}\n"...), nil
}

func appendRecord(b []byte, r *Record) ([]byte, error) {
	b = append(b, '{')
	if r.Seq != 0 {
		b = appendInt(b, "seq", r.Seq)
		b = append(b, ',')
	}
	b = appendString(append(b, `"id":`...), r.ID)
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendString(append(b, `,"protocol":`...), r.Protocol)
	b = appendString(append(b, `,"endpoint":`...), r.Endpoint)
	agent, err := json.Marshal(r.Agent)
	if err != nil {
		return nil, fmt.Errorf("encode agent: %w", err)
	}
	b = append(append(b, `,"agent":`...), agent...)
	b = appendString(append(b, `,"summary":`...), r.Summary)
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"facts", r.Facts}, {"raw", r.Raw}} {
		if len(f.raw) > 0 {
			if b, err = appendRaw(b, f.name, f.raw); err != nil {
				return nil, err
			}
		}
	}
	b = appendString(append(b, `,"verdict":`...), r.Verdict)
	if r.Reason != "" {
		b = appendString(append(b, `,"reason":`...), r.Reason)
	}
	if r.DecidedBy != "" {
		b = appendString(append(b, `,"decided_by":`...), r.DecidedBy)
	}
	b = appendInt(append(b, ','), "policy_us", r.PolicyMicros)
	if r.JudgeMicros != 0 {
		b = appendInt(append(b, ','), "judge_us", r.JudgeMicros)
	}
	if len(r.Details) > 0 {
		if b, err = appendRaw(b, "details", r.Details); err != nil {
			return nil, err
		}
	}
	b = strconv.AppendBool(append(b, `,"completed":`...), r.Completed)
	b = appendOutcome(b, int64(r.Status), r.BytesIn, r.BytesOut, "duration_us", r.DurationMicros, r.Error)
	return append(b, '}'), nil
}

func appendCompletion(b []byte, c *Completion) []byte {
	b = appendString(append(b, `{"id":`...), c.ID)
	b = appendOutcome(b, int64(c.Status), c.BytesIn, c.BytesOut, "duration_ns", int64(c.Duration), c.Error)
	return append(b, '}')
}

// appendOutcome appends the fields a record and a completion share, each
// omitted when zero.
func appendOutcome(b []byte, status, in, out int64, durName string, dur int64, errText string) []byte {
	for _, f := range []struct {
		name string
		v    int64
	}{{"status", status}, {"bytes_in", in}, {"bytes_out", out}, {durName, dur}} {
		if f.v != 0 {
			b = appendInt(append(b, ','), f.name, f.v)
		}
	}
	if errText != "" {
		b = appendString(append(b, `,"error":`...), errText)
	}
	return b
}

func appendInt(b []byte, name string, v int64) []byte {
	b = append(append(append(b, '"'), name...), `":`...)
	return strconv.AppendInt(b, v, 10)
}

// appendRaw appends raw compacted, as encoding/json does: white space
// between tokens goes, so a line break in embedded JSON cannot split the
// journal line. Compacting validates raw in the same pass.
func appendRaw(b []byte, name string, raw json.RawMessage) ([]byte, error) {
	buf := bytes.NewBuffer(append(append(append(b, `,"`...), name...), `":`...))
	if err := json.Compact(buf, raw); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", name, err)
	}
	return buf.Bytes(), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does
// with HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
