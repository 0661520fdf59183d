// Package wait holds the named timeouts that every wait in roost's tests
// uses, and waiting for a condition instead of sleeping. It imports nothing
// of roost, so that the tests of any package can use it without an import
// cycle, the node's own tests included (package testutil starts a
// platform, which embeds a node); testutil re-exports it.
package wait

import (
	"context"
	"testing"
	"time"
)

// Named timeouts: every wait in a test uses one of these.
const (
	// Short bounds what should happen at once on a local machine.
	Short = 5 * time.Second
	// Medium bounds work that involves starting processes.
	Medium = 30 * time.Second
	// Long bounds heavy work: large transfers, builds.
	Long = 5 * time.Minute
)

// Context returns a context that ends after d or with the test.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Eventually polls cond until it is true, failing the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Until polls cond until it is true or timeout has passed, and tells
// whether cond came true. Unlike Eventually it never fails the test, so
// that goroutines other than the test's, and cleanups that must go on
// after a failure, can wait too.
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		if pause < 100*time.Millisecond {
			pause *= 2
		}
	}
	return true
}
