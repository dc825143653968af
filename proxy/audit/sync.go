package audit

import "fmt"

// SyncMode chooses when the journal is fsynced, trading throughput for
// durability across machine crashes. Every mode survives a killed process:
// a line is in the kernel's page cache once [Journal.Append] returns.
type SyncMode string

// The sync modes (the `audit_sync` setting).
const (
	// SyncAlways fsyncs before Append returns. Concurrent appends share
	// fsyncs (group commit).
	SyncAlways SyncMode = "always"
	// SyncBatch fsyncs from the background goroutine at most every
	// BatchInterval, when something was written. The default.
	SyncBatch SyncMode = "batch"
	// SyncNever leaves flushing to the operating system.
	SyncNever SyncMode = "never"
)

// ParseSyncMode parses an `audit_sync` value: "always", "batch" or "never".
// The empty string means the default, [SyncBatch].
func ParseSyncMode(s string) (SyncMode, error) {
	switch m := SyncMode(s); m {
	case SyncAlways, SyncBatch, SyncNever:
		return m, nil
	case "":
		return SyncBatch, nil
	}
	return "", fmt.Errorf("audit_sync %q: want \"always\" (fsync every record), \"batch\" (fsync every batch interval) or \"never\"", s)
}
