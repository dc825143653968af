package clickhouse

import "strings"

// token is one lexical token of ClickHouse SQL, as far as splitting an
// INSERT from its data needs: words (keywords and bare identifiers),
// quoted identifiers, strings, numbers and single punctuation characters.
type token struct {
	kind       byte // 'w' word, 'q' quoted identifier, 's' string, 'n' number, 'p' punctuation
	start, end int  // byte offsets
}

// lexer tokenizes like ClickHouse's own lexer: whitespace, -- and /* */
// comments are skipped; strings take backslash escapes and doubled quotes.
type lexer struct {
	s   string
	pos int
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
			return token{}, false
		}
		kind := byte('q')
		if c == '\'' {
			kind = 's'
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
				l.pos = len(l.s)
				return true
			}
			l.pos += i + 1
		case strings.HasPrefix(l.s[l.pos:], "/*"):
			i := strings.Index(l.s[l.pos+2:], "*/")
			if i < 0 {
				return false
			}
			l.pos += i + 4
		default:
			return true
		}
	}
	return true
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
