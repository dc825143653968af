package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	segmentPrefix = "journal-"
	segmentSuffix = ".log"
	idFile        = "id"
)

// segmentName is the file name of segment n: journal-000001.log.
func segmentName(n int64) string {
	return fmt.Sprintf("%s%06d%s", segmentPrefix, n, segmentSuffix)
}

// segmentPath is the path of segment n in dir.
func segmentPath(dir string, n int64) string {
	return filepath.Join(dir, segmentName(n))
}

// parseSegmentName returns the number of a segment file name.
func parseSegmentName(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, segmentPrefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, segmentSuffix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// listSegments returns the numbers of the segments in dir, ascending.
func listSegments(dir string) ([]int64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list journal segments: %w", err)
	}
	var segs []int64
	for _, de := range des {
		if n, ok := parseSegmentName(de.Name()); ok && de.Type().IsRegular() {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return segs, nil
}

// nextSegment returns the first segment in dir numbered above n.
func nextSegment(dir string, n int64) (int64, bool, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return 0, false, err
	}
	for _, s := range segs {
		if s > n {
			return s, true, nil
		}
	}
	return 0, false, nil
}

// readOrCreateID returns the journal ID stored in dir, creating one the
// first time.
func readOrCreateID(dir string) (string, error) {
	path := filepath.Join(dir, idFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if id == "" {
			return "", fmt.Errorf("journal ID file %s is empty; remove it only if the store has no positions for this journal", path)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read journal ID: %w", err)
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("write journal ID: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write journal ID: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return id, nil
}

// writeFileSync writes data to a new file at path (0600) and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory, so that files created or renamed in it
// survive a machine crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync journal folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync journal folder: %w", err)
	}
	return nil
}

// openSegment opens segment n for appending, creating it if needed, and
// returns it with its size.
func openSegment(dir string, n int64) (*os.File, int64, error) {
	f, err := os.OpenFile(segmentPath(dir, n), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open journal segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open journal segment: %w", err)
	}
	return f, fi.Size(), nil
}

// completeLength returns the length of the longest prefix of the file at
// path that ends with '\n' (0 if there is none), and the file's size.
func completeLength(path string) (keep, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size = fi.Size()
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && err != io.EOF {
			return 0, 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, size, nil
		}
		end = start
	}
	return 0, size, nil
}

// truncatePartialLine cuts a line left unfinished by a crash off the end of
// the segment at path, and returns how many bytes it removed.
func truncatePartialLine(path string) (int64, error) {
	keep, size, err := completeLength(path)
	if err != nil {
		return 0, fmt.Errorf("check journal segment: %w", err)
	}
	if keep == size {
		return 0, nil
	}
	if err := os.Truncate(path, keep); err != nil {
		return 0, fmt.Errorf("truncate partial journal line: %w", err)
	}
	return size - keep, nil
}
