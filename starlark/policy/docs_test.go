package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.starlark.net/resolve"
)

// TestDocSnippetsAreStarlark parses and resolves every ```python block of
// the README and docs/ in ward's dialect, so that no example an operator
// copies is a syntax error. Names are not checked: snippets use the hooks
// and judges of the text around them.
func TestDocSnippetsAreStarlark(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	block := regexp.MustCompile("(?s)\n```python\n(.*?)```")
	anyName := func(string) bool { return true }
	n := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatchIndex(text, -1) {
			src := string(text[m[2]:m[3]])
			if strings.HasPrefix(src, "import ") {
				continue // a webhook receiver in Python (docs/judges.md)
			}
			line := strings.Count(string(text[:m[2]]), "\n") + 1
			name := fmt.Sprintf("%s:%d", filepath.Base(file), line)
			f, err := fileOptions.Parse(name, src, 0)
			if err == nil {
				err = resolve.File(f, anyName, anyName)
			}
			if err != nil {
				t.Errorf("%s: the snippet is not Starlark: %v", name, err)
			}
			n++
		}
	}
	if n < 30 {
		t.Errorf("found %d snippets; the block pattern no longer matches the docs", n)
	}
}
