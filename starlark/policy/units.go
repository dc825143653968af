package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

// duration unpacks "10s"-style strings, time.duration values, or seconds.
type duration time.Duration

func (d *duration) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		parsed, err := time.ParseDuration(string(v))
		if err != nil {
			return fmt.Errorf("bad duration %s: use a string like \"500ms\", \"20s\" or \"10m\"", v)
		}
		*d = duration(parsed)
	case startime.Duration:
		*d = duration(v)
	case starlark.Int:
		secs, ok := v.Int64()
		if !ok {
			return fmt.Errorf("duration %s out of range", v)
		}
		*d = duration(time.Duration(secs) * time.Second)
	default:
		return fmt.Errorf("got %s, want a duration such as \"20s\"", v.Type())
	}
	if *d <= 0 {
		return fmt.Errorf("duration %s must be positive", v)
	}
	return nil
}

// size unpacks byte counts: an int, or a string like "1MiB", "512KiB", "10MB".
type size int64

var sizeUnits = []struct {
	suffix string
	n      int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1},
}

func (s *size) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.Int:
		n, ok := v.Int64()
		if !ok || n < 0 {
			return fmt.Errorf("size %s out of range", v)
		}
		*s = size(n)
		return nil
	case starlark.String:
		str := strings.TrimSpace(string(v))
		mult := int64(1)
		for _, u := range sizeUnits {
			if strings.HasSuffix(str, u.suffix) {
				str, mult = strings.TrimSpace(strings.TrimSuffix(str, u.suffix)), u.n
				break
			}
		}
		n, err := strconv.ParseInt(str, 10, 64)
		if err != nil || n < 0 || n > (1<<40)/mult {
			return fmt.Errorf("bad size %s: use bytes or a string like \"1MiB\"", v)
		}
		*s = size(n * mult)
		return nil
	}
	return fmt.Errorf("got %s, want a size such as \"1MiB\"", v.Type())
}
