package clickhouse

import (
	"strings"

	"github.com/wardproject/ward/protocols/httprelay"
)

// token is one lexical token of ClickHouse SQL, as far as splitting an
// INSERT from its data needs: words (keywords and bare identifiers),
// quoted identifiers, strings, numbers and single punctuation characters.
type token struct {
	kind       byte // 'w' word, 'q' quoted identifier, 's' string, 'n' number, 'p' punctuation
	start, end int  // byte offsets
}

// lexer tokenizes like ClickHouse's own lexer: whitespace, -- and /* */
// comments are skipped; strings take backslash escapes and doubled quotes.
// It notes the first construct that the SQL parser tokenizes differently
// from ClickHouse (see checkTokens).
type lexer struct {
	s         string
	pos       int
	ambiguity string
}

// note records the first ambiguity met.
func (l *lexer) note(why string) {
	if l.ambiguity == "" {
		l.ambiguity = why
	}
}

// next returns the next token; ok is false at the end of input or on an
// unterminated string, identifier or comment.
func (l *lexer) next() (t token, ok bool) {
	if !l.skip() || l.pos >= len(l.s) {
		return token{}, false
	}
	start, c := l.pos, l.s[l.pos]
	switch {
	case c == '\'' || c == '"' || c == '`':
		if !l.quoted(c) {
			l.pos = start
			return token{}, false
		}
		kind := byte('q')
		if c == '\'' {
			kind = 's'
		} else if body := l.s[start+1 : l.pos-1]; strings.ContainsRune(body, '\\') || strings.Contains(body, string([]byte{c, c})) {
			l.note("a quoted identifier with a backslash or a doubled quote")
		}
		return token{kind: kind, start: start, end: l.pos}, true
	case isWordByte(c):
		for l.pos < len(l.s) && (isWordByte(l.s[l.pos]) || isDigit(l.s[l.pos])) {
			l.pos++
		}
		return token{kind: 'w', start: start, end: l.pos}, true
	case isDigit(c):
		for l.pos < len(l.s) && (isDigit(l.s[l.pos]) || isWordByte(l.s[l.pos]) || l.s[l.pos] == '.') {
			l.pos++
		}
		return token{kind: 'n', start: start, end: l.pos}, true
	}
	if c == '$' {
		l.note("'$' outside a string (newer ClickHouse reads $tag$ … $tag$ as a string)")
	}
	l.pos++
	return token{kind: 'p', start: start, end: l.pos}, true
}

// skip passes whitespace and comments; false on an unterminated comment.
func (l *lexer) skip() bool {
	for l.pos < len(l.s) {
		switch {
		case strings.ContainsRune(" \t\n\r\f\v", rune(l.s[l.pos])):
			l.pos++
		case strings.HasPrefix(l.s[l.pos:], "--"):
			i := strings.IndexByte(l.s[l.pos:], '\n')
			if i < 0 {
				i = len(l.s) - l.pos
			}
			if strings.ContainsRune(strings.TrimSuffix(l.s[l.pos:l.pos+i], "\r"), '\r') {
				l.note("a carriage return inside a -- comment")
			}
			l.pos = min(l.pos+i+1, len(l.s))
		case strings.HasPrefix(l.s[l.pos:], "/*"):
			i := strings.Index(l.s[l.pos+2:], "*/")
			if i < 0 {
				return false
			}
			if strings.Contains(l.s[l.pos+2:l.pos+2+i], "/*") {
				l.note("a nested /* comment")
			}
			l.pos += i + 4
		default:
			return true
		}
	}
	return true
}

// maxNesting is the deepest bracket nesting the parser is given: it
// recurses per level, and a stack overflow would end the gateway.
// ClickHouse's own max_parser_depth defaults to 1000.
const maxNesting = 1000

// checkTokens refuses SQL that the SQL parser and ClickHouse could
// tokenize differently, so that the statements the parser analyses are the
// ones ClickHouse runs:
//
//   - a back- or double-quoted identifier with a backslash or a doubled
//     quote: ClickHouse reads escapes there, the parser ends the identifier
//     at the next quote (and may then read the rest as a string);
//   - a carriage return inside a -- comment other than at its end:
//     ClickHouse ends the comment at a newline only, the parser at '\r';
//   - a block comment holding "/*": newer ClickHouse nests comments, the
//     parser (and older ClickHouse) end them at the first "*/";
//   - '$' outside strings: newer ClickHouse reads $tag$ … $tag$ as a
//     string, the parser as identifiers;
//   - an unterminated comment, string or quoted identifier;
//   - brackets nested deeper than maxNesting.
func checkTokens(sql string) error {
	l := &lexer{s: sql}
	depth := 0
	for {
		t, ok := l.next()
		if !ok {
			break
		}
		if t.kind != 'p' {
			continue
		}
		switch sql[t.start] {
		case '(', '[', '{':
			if depth++; depth > maxNesting {
				return httprelay.Refuse("the query is nested deeper than %d brackets", maxNesting)
			}
		case ')', ']', '}':
			depth--
		}
	}
	switch {
	case l.ambiguity != "":
		return httprelay.Refuse("ambiguous query: %s is read differently by ClickHouse versions and the SQL parser", l.ambiguity)
	case l.pos < len(sql):
		return httprelay.Refuse("cannot tokenize the query")
	}
	return nil
}

// quoted passes a quoted string or identifier opened by q.
func (l *lexer) quoted(q byte) bool {
	for l.pos++; l.pos < len(l.s); l.pos++ {
		switch l.s[l.pos] {
		case '\\':
			l.pos++
		case q:
			if l.pos+1 < len(l.s) && l.s[l.pos+1] == q {
				l.pos++
				continue
			}
			l.pos++
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// word reports whether t is the keyword kw (any case).
func (l *lexer) word(t token, kw string) bool {
	return t.kind == 'w' && strings.EqualFold(l.s[t.start:t.end], kw)
}

// dataClause is where an INSERT's inline data begins.
type dataClause struct {
	clause int  // offset of VALUES or FORMAT
	data   int  // offset of the first byte of data
	values bool // the data is in the Values format: rows of SQL expressions
}

// insertData finds where the data of an INSERT begins, as ClickHouse's
// INSERT parser does: after VALUES, or after FORMAT <name>. found is false
// when sql is not an INSERT with inline data (INSERT ... SELECT, any other
// statement, or no data clause in sql); ok is false when the text cannot
// be tokenized.
func insertData(sql string) (d dataClause, found, ok bool) {
	l := &lexer{s: sql}
	t, more := l.next()
	if !more || !l.word(t, "insert") {
		return d, false, l.skip()
	}
	depth := 0
	for {
		t, more = l.next()
		if !more {
			return d, false, l.pos >= len(sql)
		}
		if t.kind == 'p' {
			switch sql[t.start] {
			case '(':
				depth++
			case ')':
				depth--
			case ';':
				if depth == 0 {
					return d, false, true
				}
			}
			continue
		}
		if depth != 0 {
			continue
		}
		switch {
		case l.word(t, "select"), l.word(t, "with"):
			return d, false, true
		case l.word(t, "values"):
			return dataClause{clause: t.start, data: t.end, values: true}, true, true
		case l.word(t, "format"):
			name, more := l.next()
			if !more || (name.kind != 'w' && name.kind != 'q') {
				return d, false, more
			}
			format := strings.Trim(sql[name.start:name.end], "`\"")
			return dataClause{clause: t.start, data: name.end, values: strings.EqualFold(format, "values")}, true, true
		}
	}
}
