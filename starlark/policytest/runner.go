package policytest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wardproject/ward/starlark/policy"
)

// Runner runs policy tests and fixtures.
type Runner struct {
	Protocols []Protocol
	// Config is the policy fixtures are checked against; empty means the
	// nearest ward.star at or above each fixture.
	Config  string
	Verbose bool
	Out     io.Writer
	// Logger receives the policies' log() and print() output; by default
	// it is discarded.
	Logger *slog.Logger

	policies map[string]*policy.Policy
}

// Summary counts what a run did.
type Summary struct {
	Passed, Failed int
	Results        []Result
}

// OK reports whether nothing failed.
func (s Summary) OK() bool { return s.Failed == 0 }

// Test and fixture file names.
const (
	testSuffix    = "_test.star"
	fixtureSuffix = ".fixture.json"
)

// Run runs the tests and fixtures under paths (files or directories,
// searched recursively, skipping hidden directories). It returns an error
// only when a path does not exist or holds nothing to run.
func (r *Runner) Run(ctx context.Context, paths []string) (Summary, error) {
	files, err := Discover(paths)
	if err != nil {
		return Summary{}, err
	}
	var sum Summary
	for _, f := range files {
		var results []Result
		if strings.HasSuffix(f, ".star") {
			results = r.runStarFile(f)
		} else {
			results = []Result{r.runFixture(ctx, f)}
		}
		for _, res := range results {
			r.report(res)
			if res.Passed() {
				sum.Passed++
			} else {
				sum.Failed++
			}
		}
		sum.Results = append(sum.Results, results...)
	}
	r.summarize(sum)
	return sum, nil
}

// Discover lists the test files and fixtures under paths. A file named
// explicitly is taken whatever its name, if it ends in .star or .json.
func Discover(paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var files []string
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			if !strings.HasSuffix(root, ".star") && !strings.HasSuffix(root, ".json") {
				return nil, fmt.Errorf("%s: neither a *%s file nor a *%s fixture", root, testSuffix, fixtureSuffix)
			}
			files = append(files, root)
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(path, testSuffix) || strings.HasSuffix(path, fixtureSuffix) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *%s files or *%s fixtures in %s", testSuffix, fixtureSuffix, strings.Join(paths, ", "))
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

func (r *Runner) out() io.Writer {
	if r.Out == nil {
		return io.Discard
	}
	return r.Out
}

func (r *Runner) report(res Result) {
	name := res.File
	if res.Name != "" {
		name = fmt.Sprintf("%s (%s)", res.Name, res.File)
	}
	if res.Passed() {
		if r.Verbose {
			fmt.Fprintf(r.out(), "--- PASS: %s (%.3fs)\n", name, res.Elapsed.Seconds())
			r.indent(res.Logs)
		}
		return
	}
	fmt.Fprintf(r.out(), "--- FAIL: %s\n", name)
	r.indent(res.Logs)
	r.indent(res.Failures)
}

func (r *Runner) indent(lines []string) {
	for _, l := range lines {
		fmt.Fprintf(r.out(), "    %s\n", strings.ReplaceAll(l, "\n", "\n    "))
	}
}

func (r *Runner) summarize(s Summary) {
	if s.OK() {
		fmt.Fprintf(r.out(), "ok\t%d passed\n", s.Passed)
		return
	}
	fmt.Fprintf(r.out(), "FAIL\t%d failed, %d passed\n", s.Failed, s.Passed)
}

func (r *Runner) protocol(name string) *Protocol {
	for i := range r.Protocols {
		if r.Protocols[i].Name == name {
			return &r.Protocols[i]
		}
	}
	return nil
}
