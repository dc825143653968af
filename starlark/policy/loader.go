package policy

import (
	"fmt"
	"os"
	"path/filepath"

	"go.starlark.net/starlark"
)

// loader evaluates policy files and the files they load(), each once.
type loader struct {
	predeclared starlark.StringDict
	modules     map[string]*module
	files       []string
}

type module struct {
	globals starlark.StringDict
	err     error
	loading bool
}

// load implements starlark.Thread.Load: a module name is a path relative to
// the directory of the file that loads it.
func (l *loader) load(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	from := thread.CallFrame(0).Pos.Filename()
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(from), name)
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return l.exec(thread, path)
}

func (l *loader) exec(thread *starlark.Thread, path string) (starlark.StringDict, error) {
	if m, ok := l.modules[path]; ok {
		if m.loading {
			return nil, fmt.Errorf("cycle in load graph at %s", path)
		}
		return m.globals, m.err
	}
	m := &module{loading: true}
	l.modules[path] = m
	l.files = append(l.files, path)
	src, err := os.ReadFile(path)
	if err != nil {
		m.err = fmt.Errorf("load %s: %w", path, err)
	} else {
		m.globals, m.err = starlark.ExecFileOptions(fileOptions, thread, path, src, l.predeclared)
	}
	m.loading = false
	return m.globals, m.err
}
