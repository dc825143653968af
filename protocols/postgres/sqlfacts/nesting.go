package sqlfacts

import (
	"strings"
)

// maxNesting bounds how deep a statement's parse tree may grow through
// left-associative chains (a+b+c…, x::t::t…, UNION, JOIN, COLLATE, AT
// TIME ZONE), which the server's grammar accepts at any length.
// libpg_query writes its tree out with one C call per level, on the
// calling thread's stack: tens of thousands of levels overflow it and
// kill the process. Right-nested forms (parentheses, calls, NOT) are
// bounded by the grammar's own stack. Trees deeper than this could not be
// read by ward anyway (protobuf decoding stops at 10,000 levels).
const maxNesting = 4096

// tooDeep reports whether sql may nest more than maxNesting levels. It
// scans tokens as the server lexes them and, per bracket level, counts
// the infix tokens of the current expression (reset where an expression
// ends: a comma, AND, OR, and WHEN/THEN/ELSE inside CASE) and the set
// operations and joins (reset only by ';'); a path's depth is at most the
// sum of those along the brackets that enclose it. Text that does not
// lex is left to the parser, which rejects it before building a tree.
func tooDeep(sql string) bool {
	type level struct {
		ops, chains int
		isCase      bool
	}
	stack := []level{{}}
	below := 0 // depth the enclosing levels account for
	deep := func() bool {
		top := stack[len(stack)-1]
		return below+top.ops+top.chains+len(stack) > maxNesting
	}
	push := func(isCase bool) {
		top := stack[len(stack)-1]
		below += top.ops + top.chains
		stack = append(stack, level{isCase: isCase})
	}
	pop := func() {
		if len(stack) > 1 {
			stack = stack[:len(stack)-1]
			top := stack[len(stack)-1]
			below -= top.ops + top.chains
		}
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		top := &stack[len(stack)-1]
		next, ok := i+1, true
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return false
			}
			next = i + j + 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			next, ok = skipBlockComment(sql, i)
		case c == '\'':
			next, ok = skipString(sql, i, false)
		case c == '"':
			next, ok = skipQuoted(sql, i, '"')
		case c == '$':
			next, ok = skipDollar(sql, i)
		case isIdentStart(c):
			next, ok = skipWord(sql, i)
			word := sql[i:next]
			if j := strings.IndexAny(word, "'\""); j >= 0 {
				word = word[:j] // a prefixed string: E'…', U&"…"
			}
			switch wordClass(word) {
			case wordCase:
				push(true)
			case wordEnd:
				if top.isCase {
					pop()
				}
			case wordList:
				top.ops = 0
			case wordBranch:
				if top.isCase {
					top.ops = 0
				}
			case wordChain:
				top.chains++
			case wordInfix:
				top.ops++
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			next, _ = skipNumber(sql, i)
		case c == '(' || c == '[':
			push(false)
		case c == ')' || c == ']':
			pop()
		case c == ',':
			top.ops = 0
		case c == ';':
			stack, below = stack[:1], 0
			stack[0] = level{}
		case strings.IndexByte(opChars, c) >= 0:
			next = skipOperator(sql, i)
			top.ops++
		}
		if !ok {
			return false
		}
		if deep() {
			return true
		}
		i = next
	}
	return false
}

// opChars are the characters operators are made of (with ':' for '::').
const opChars = "+-*/<>=~!@#%^&|`?:"

// skipOperator skips a run of operator characters, stopping where a
// comment starts.
func skipOperator(sql string, i int) int {
	j := i + 1
	for j < len(sql) && strings.IndexByte(opChars, sql[j]) >= 0 {
		if (sql[j] == '-' && j+1 < len(sql) && sql[j+1] == '-') || (sql[j] == '/' && j+1 < len(sql) && sql[j+1] == '*') {
			break
		}
		j++
	}
	return j
}

// Kinds of words for tooDeep.
const (
	wordOther  = iota
	wordCase   // CASE opens a level
	wordEnd    // END closes a CASE
	wordList   // AND, OR: the parser flattens their chains
	wordBranch // WHEN, THEN, ELSE: separate a CASE's expressions
	wordChain  // UNION, INTERSECT, EXCEPT, JOIN: nest across commas
	wordInfix  // keywords that nest like an operator
)

func wordClass(w string) int {
	if len(w) < 2 || len(w) > 9 {
		return wordOther
	}
	switch strings.ToLower(w) {
	case "case":
		return wordCase
	case "end":
		return wordEnd
	case "and", "or":
		return wordList
	case "when", "then", "else":
		return wordBranch
	case "union", "intersect", "except", "join":
		return wordChain
	case "collate", "at", "operator", "is", "isnull", "notnull", "like", "ilike", "similar", "between", "in", "overlaps":
		return wordInfix
	}
	return wordOther
}
