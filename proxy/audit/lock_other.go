//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package audit

import "os"

// lockDir is a no-op where flock is unavailable: run one gateway per state
// dir.
func lockDir(string) (*os.File, error) { return nil, nil }

// unlockDir is a no-op where flock is unavailable.
func unlockDir(*os.File) error { return nil }
