package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/wardproject/ward/protocols/action"
)

// stdEntry is how encoding/json writes an entry; appendEntry must match it.
func stdEntry(t testing.TB, e Entry) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&e); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func checkEntry(t testing.TB, e Entry) {
	got, err := appendEntry(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if want := stdEntry(t, e); !bytes.Equal(got, want) {
		t.Fatalf("appendEntry differs from encoding/json\n got %s\nwant %s", got, want)
	}
	var back Entry
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
}

func TestAppendEntryMatchesEncodingJSON(t *testing.T) {
	full := &Record{
		Seq: 7, ID: "a1", Time: time.Date(2026, 11, 30, 13, 0, 0, 123456789, time.FixedZone("x", 3600)),
		Protocol: "http", Endpoint: "github", Agent: action.Agent{Name: "bot", User: "bot@x", Tags: []string{"tag:ci"}, Addr: "1.2.3.4:5"},
		Summary: "GET https://api.github.com/a?b=<c>&d", Facts: json.RawMessage(`{"a":[1,2,{"b":null}]}`),
		Raw: json.RawMessage(`{"m":"GET"}`), Verdict: VerdictDeny, Reason: "no \"writes\"\n\ttoday", DecidedBy: "llm:gpt",
		PolicyMicros: 12, JudgeMicros: 3400, Details: json.RawMessage(`{"tokens":12}`),
		Completed: true, Status: 403, BytesIn: 1, BytesOut: 2, DurationMicros: 3, Error: "x",
	}
	checkEntry(t, Entry{Record: full})
	checkEntry(t, Entry{Record: &Record{ID: "a2", Time: time.Unix(0, 0).UTC(), Verdict: VerdictAllow}})
	checkEntry(t, Entry{Completion: &Completion{ID: "a1", Status: 200, BytesIn: 5, Duration: time.Millisecond, Error: "boom"}})
	checkEntry(t, Entry{Completion: &Completion{ID: "a1"}})
	// Embedded JSON with line breaks (a judge's indented details, say) must
	// not split the journal line: a split line is skipped when loading, and
	// the action it recorded would be lost from the store.
	checkEntry(t, Entry{Record: &Record{ID: "a3", Time: time.Unix(0, 0).UTC(), Verdict: VerdictAllow,
		Facts: json.RawMessage("{\n  \"a\": [1,\r\n 2]\n}"), Details: json.RawMessage("{\n\t\"model\": \"m\"\n}\n")}})
	if _, err := appendEntry(nil, Entry{Record: &Record{ID: "x", Verdict: VerdictAllow, Facts: json.RawMessage(`{bad`)}}); err == nil {
		t.Error("invalid embedded JSON accepted")
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x01\b\f\n\r\t\x1f\x7f", "é ü 日本", "\xff\xfe bad utf8 \xc3", "\u2028\u2029", "<html>&amp;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkEntry(t, Entry{Completion: &Completion{ID: s, Error: s}})
		checkEntry(t, Entry{Record: &Record{ID: s, Summary: s, Reason: s, Verdict: VerdictAllow, Time: time.Unix(1, 2)}})
	})
}

func BenchmarkAppendEntry(b *testing.B) {
	r := testRecord(1)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = appendEntry(buf[:0], Entry{Record: r}); err != nil {
			b.Fatal(err)
		}
	}
}
