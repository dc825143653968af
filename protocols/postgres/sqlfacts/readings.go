package sqlfacts

import (
	"strings"
)

// The gateway keeps every session at client_encoding UTF8 and
// standard_conforming_strings on, and closes a session whose server
// reports another value. The server reports such a change only when it
// is next idle, so text that reaches it while an earlier statement still
// runs, or SQL it parses at run time (a DO body, an EXECUTE string), may
// be read under a setting changed out of ward's sight (by a function, a
// cursor over set_config, a trigger). Text whose reading does not depend
// on either setting is safe whenever it arrives; the rest is marked here.

// ReadsDifferently reports whether the server could read the message's
// text differently from ward with standard_conforming_strings off or
// under another client encoding. Such text must only reach the server
// when nothing sent before it is still running.
func (a *Analysis) ReadsDifferently() bool { return a.settingDependent }

// readsDifferently reports whether sql (with literals lits as scanned)
// lexes differently with standard_conforming_strings off, or under a
// client encoding whose multibyte characters may end in an ASCII byte
// (SJIS, BIG5, GBK, UHC, GB18030, JOHAB): a backslash in a standard or
// national string, or a byte >= 0x80 right before ASCII punctuation that
// such an encoding would swallow. Text that does not lex counts.
func readsDifferently(sql string, lits []span, lexed bool) bool {
	if !lexed {
		return true
	}
	if strings.IndexByte(sql, '\\') >= 0 {
		for _, l := range lits {
			if l.kind == 's' && strings.IndexByte(sql[l.start:l.end], '\\') >= 0 {
				return true
			}
		}
		if nationalBackslash(sql) {
			return true
		}
	}
	for i := 0; i+1 < len(sql); i++ {
		if sql[i] >= 0x80 && strings.IndexByte(swallowable, sql[i+1]) >= 0 {
			return true
		}
	}
	return false
}

// swallowable is the ASCII punctuation that can be the last byte of a
// multibyte character in a client-only encoding.
const swallowable = `:;<=>?@[\]^` + "`" + `{|}~`

// nationalBackslash reports a backslash in an N'…' string. It looks at
// every N' that could start one (even inside a comment or string), which
// errs on the side of reporting.
func nationalBackslash(sql string) bool {
	for i := 0; i+1 < len(sql); i++ {
		if (sql[i] == 'n' || sql[i] == 'N') && sql[i+1] == '\'' && (i == 0 || !isIdentCont(sql[i-1])) {
			end, _ := skipString(sql, i+1, false)
			if strings.IndexByte(sql[i+1:end], '\\') >= 0 {
				return true
			}
		}
	}
	return false
}

// textReadsDifferently scans and checks one text.
func textReadsDifferently(sql string) bool {
	var buf [16]span
	lits, lexed := scanLiterals(sql, buf[:0])
	return readsDifferently(sql, lits, lexed)
}

// runsNow reports whether what the walker visits runs when the statement
// does (not later, as a function body, nor never, under EXPLAIN).
func (w *walker) runsNow() bool { return w.effects() && w.run.deferred == 0 }

// checkRunTimeText refuses SQL that the server parses only when it runs
// and that reads differently under other settings.
func (w *walker) checkRunTimeText(sql, where string) bool {
	if !w.runsNow() || !textReadsDifferently(sql) {
		return true
	}
	w.fail("%s: the server parses it when it runs, maybe after a statement changed standard_conforming_strings or client_encoding, "+
		"and it would then read it differently (a backslash in a '…' string, or a non-ASCII character right before punctuation); "+
		"write such strings as E'…' or in dollar quotes", where)
	return false
}
