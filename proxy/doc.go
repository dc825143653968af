// Package proxy holds what every protocol handler shares: the Engine that
// asks the policy and records each action in the audit journal before
// anything is forwarded, the Snapshot of the policy being served with its
// resolved secrets, and the log redaction that keeps secrets out of the
// gateway's output.
//
// Listeners, the CA (proxy/ca), the audit log (proxy/audit) and the
// gateway's lifecycle (proxy/gateway) live in sub-packages.
package proxy
