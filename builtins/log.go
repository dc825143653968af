package builtins

import (
	"fmt"
	"log/slog"
	"strings"

	"go.starlark.net/starlark"
)

const loggerKey = "ward.logger"

// SetLogger makes log() and print() on thread write to l with args added
// to every line (the runtime passes the action's ID). The logger with args
// is only built if the hook logs: most never do.
func SetLogger(thread *starlark.Thread, l *slog.Logger, args ...any) {
	thread.SetLocal(loggerKey, &lazyLogger{base: l, args: args})
	thread.Print = printToLog
}

// lazyLogger builds base.With(args...) on first use.
type lazyLogger struct {
	base *slog.Logger
	args []any
	l    *slog.Logger
}

func printToLog(thread *starlark.Thread, msg string) { logger(thread).Info(msg, "source", "policy") }

func logger(thread *starlark.Thread) *slog.Logger {
	ll, ok := thread.Local(loggerKey).(*lazyLogger)
	if !ok {
		return slog.Default()
	}
	if ll.l == nil {
		ll.l = ll.base
		if len(ll.args) > 0 {
			ll.l = ll.base.With(ll.args...)
		}
	}
	return ll.l
}

// Log is the builtin log.
//
//	def log(*args, level = "info", **fields):
//
// log writes a line to the gateway log: args joined by spaces, then the
// fields as key=value. level is "debug", "info", "warn" or "error". Never
// pass secrets: they print as their handle anyway.
var Log = starlark.NewBuiltin("log", logBuiltin)

func logBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var parts []string
	for _, a := range args {
		if s, ok := a.(starlark.String); ok {
			parts = append(parts, string(s))
		} else {
			parts = append(parts, a.String())
		}
	}
	level := slog.LevelInfo
	attrs := []any{"source", "policy"}
	for _, kv := range kwargs {
		key := string(kv[0].(starlark.String))
		if key == "level" {
			s, ok := kv[1].(starlark.String)
			if !ok || level.UnmarshalText([]byte(s)) != nil {
				return nil, fmt.Errorf("%s: level must be \"debug\", \"info\", \"warn\" or \"error\", got %s", b.Name(), kv[1])
			}
			continue
		}
		val := kv[1]
		if s, ok := val.(starlark.String); ok {
			attrs = append(attrs, key, string(s))
		} else {
			attrs = append(attrs, key, val.String())
		}
	}
	logger(thread).Log(Context(thread), level, strings.Join(parts, " "), attrs...)
	return starlark.None, nil
}
