// Package audit is the audit log of every action the gateway decides.
//
// Recording must happen before an action is forwarded, yet must not cost a
// database insert per action on the hot path. So the log has two halves:
//
//   - The [Journal]: an append-only file in the state dir. [Journal.Append]
//     encodes a [Record] as one JSON line and writes it with a single
//     write() call; when it returns, the record survives a killed process
//     (and, with [SyncAlways], a machine crash). [Journal.Complete] appends
//     the outcome of a forwarded action the same way.
//   - The [Store] (SQLite by default, [OpenSQLite]): where `ward log`,
//     `ward fixture` and the dashboard read records. A background loader
//     moves journal lines into the store in batches, saving its journal
//     [Position] in the same transaction, so every line is loaded exactly
//     once even across crashes.
//
// The journal file is the buffer between the two: nothing is held in memory
// and nothing is dropped under load. On [Open], the journal's tail that the
// store lacks is loaded before Open returns.
//
// On disk, a journal folder holds:
//
//	id                   the journal's random ID (positions are stored per ID,
//	                     so several gateways can share one store)
//	lock                 held (flock) by the process that has the journal open
//	journal-000001.log   segments of JSON lines, {"record":{…}} or
//	journal-000002.log   {"completion":{…}}; loaded segments other than the
//	…                    newest are deleted
package audit
