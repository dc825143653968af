package sqlfacts

import (
	"strings"
)

// span is a literal in a statement's text: a standard string '…' or a
// plain number.
type span struct {
	start, end int
	kind       byte // 's' string, 'n' number
}

// scanLiterals finds the literals of sql that the cache key may abstract,
// lexing as the server does with standard_conforming_strings on: comments
// (nested /* */ and --), quoted identifiers, dollar quotes, E” B” X”
// N” and U&” strings are skipped whole and stay in the key verbatim.
// It returns false when the text does not lex (an unterminated string or
// comment); such text is analysed without the cache.
func scanLiterals(sql string, spans []span) ([]span, bool) {
	n := len(sql)
	for i := 0; i < n; {
		c := sql[i]
		switch {
		case c == '-' && i+1 < n && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return spans, true
			}
			i += j + 1
		case c == '/' && i+1 < n && sql[i+1] == '*':
			j, ok := skipBlockComment(sql, i)
			if !ok {
				return spans, false
			}
			i = j
		case c == '\'':
			j, ok := skipString(sql, i, false)
			if !ok {
				return spans, false
			}
			spans = append(spans, span{start: i, end: j, kind: 's'})
			i = j
		case c == '"':
			j, ok := skipQuoted(sql, i, '"')
			if !ok {
				return spans, false
			}
			i = j
		case c == '$':
			j, ok := skipDollar(sql, i)
			if !ok {
				return spans, false
			}
			i = j
		case isIdentStart(c):
			j, ok := skipWord(sql, i)
			if !ok {
				return spans, false
			}
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < n && sql[i+1] >= '0' && sql[i+1] <= '9':
			j, plain := skipNumber(sql, i)
			if plain {
				spans = append(spans, span{start: i, end: j, kind: 'n'})
			}
			i = j
		default:
			i++
		}
	}
	return spans, true
}

// skipWord skips an identifier or keyword, and a string it prefixes
// (E'…', B'…', X'…', N'…', U&'…', U&"…").
func skipWord(sql string, i int) (int, bool) {
	j := i + 1
	for j < len(sql) && isIdentCont(sql[j]) {
		j++
	}
	if j >= len(sql) {
		return j, true
	}
	word := sql[i:j]
	switch {
	case sql[j] == '\'' && (word == "e" || word == "E"):
		return skipString(sql, j, true)
	case sql[j] == '\'' && len(word) == 1 && strings.ContainsAny(word, "bBxXnN"):
		return skipString(sql, j, false)
	case (word == "u" || word == "U") && j+1 < len(sql) && sql[j] == '&':
		switch sql[j+1] {
		case '\'':
			return skipString(sql, j+1, false)
		case '"':
			return skipQuoted(sql, j+1, '"')
		}
	}
	return j, true
}

// skipString skips a string literal starting at the quote at i. In an
// extended (E”) string a backslash escapes the next byte.
func skipString(sql string, i int, extended bool) (int, bool) {
	for j := i + 1; j < len(sql); j++ {
		switch sql[j] {
		case '\\':
			if extended {
				j++
			}
		case '\'':
			if j+1 < len(sql) && sql[j+1] == '\'' {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(sql), false
}

// skipQuoted skips a quoted identifier; a doubled quote is part of it.
func skipQuoted(sql string, i int, q byte) (int, bool) {
	for j := i + 1; j < len(sql); j++ {
		if sql[j] == q {
			if j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(sql), false
}

// skipBlockComment skips a (nested) block comment starting at i.
func skipBlockComment(sql string, i int) (int, bool) {
	depth := 0
	for j := i; j+1 < len(sql); j++ {
		switch {
		case sql[j] == '/' && sql[j+1] == '*':
			depth++
			j++
		case sql[j] == '*' && sql[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return len(sql), false
}

// skipDollar skips a parameter ($1) or a dollar-quoted string ($tag$…$tag$).
func skipDollar(sql string, i int) (int, bool) {
	j := i + 1
	if j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
		for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
			j++
		}
		return j, true
	}
	if j < len(sql) && isIdentStart(sql[j]) {
		for j < len(sql) && isIdentCont(sql[j]) && sql[j] != '$' {
			j++
		}
	}
	if j >= len(sql) || sql[j] != '$' {
		return i + 1, true // not a dollar quote; the server's lexer rejects a lone $
	}
	tag := sql[i : j+1]
	k := strings.Index(sql[j+1:], tag)
	if k < 0 {
		return len(sql), false
	}
	return j + 1 + k + len(tag), true
}

// skipNumber skips a numeric literal and reports whether it is plain
// (digits with an optional fraction) and followed by nothing that the
// server would read as part of it.
func skipNumber(sql string, i int) (int, bool) {
	j := i
	for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
		j++
	}
	if j < len(sql) && sql[j] == '.' {
		j++
		for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
			j++
		}
	}
	plain := j > i && sql[j-1] != '.' && (i == 0 || sql[i-1] != '.')
	if j < len(sql) && (isIdentCont(sql[j]) || sql[j] == '.') {
		plain = false
		for j < len(sql) && (isIdentCont(sql[j]) || sql[j] == '.') {
			j++
		}
	}
	return j, plain
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$'
}
