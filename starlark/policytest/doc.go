// Package policytest is `ward test`: it runs the test_* functions of
// *_test.star files and replays recorded fixtures through the real decoders
// and the policy, and reports failures the way `go test` does.
package policytest
