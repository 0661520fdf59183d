// Package testutil holds what roost's tests share: the named timeouts every
// wait uses and waiting for a condition instead of sleeping (from package
// wait), a real platform server on a loopback port with a fresh data dir,
// on either blob store, a real MinIO, the roost binary built once and run
// as `roost serve`, and free loopback ports. The helpers of raw HTTP and
// RPC calls are in package rpctest, those of real sandboxes in package
// sandboxtest, and those of sessions on them in package sessiontest.
package testutil

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil/wait"
	"github.com/roosthq/roost/platform"
)

// Named timeouts: every wait in a test uses one of these. They are
// package wait's, for the tests that cannot import testutil.
const (
	// Short bounds what should happen at once on a local machine.
	Short = wait.Short
	// Medium bounds work that involves starting processes.
	Medium = wait.Medium
	// Long bounds heavy work: large transfers, builds.
	Long = wait.Long
)

// Context returns a context that ends after d or with the test.
func Context(t testing.TB, d time.Duration) context.Context { return wait.Context(t, d) }

// Eventually polls cond until it is true, failing the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	wait.Eventually(t, timeout, what, cond)
}

// Until polls cond until it is true or timeout has passed, and tells
// whether it came true; it never fails the test, so goroutines and
// cleanups may use it.
func Until(timeout time.Duration, cond func() bool) bool { return wait.Until(timeout, cond) }

// Server is a platform running on a loopback port for one test.
type Server struct {
	*platform.Server
	URL      string
	DataDir  string
	AdminKey string
	Banner   string
	stop     func()
}

// Client returns a platform client with key.
func (s *Server) Client(key string) *client.Client { return client.New(s.URL, key, nil) }

// Admin returns a platform client with the first admin key.
func (s *Server) Admin() *client.Client { return s.Client(s.AdminKey) }

// Stop shuts the server down and waits for it.
func (s *Server) Stop() { s.stop() }

// Option changes how StartServer starts a platform.
type Option func(*platform.Config)

// WithLocalNode keeps the embedded node, which runs sandboxes with the roost
// binary built for the tests. Without it, test platforms have no node.
func WithLocalNode(t testing.TB) Option {
	bin := RoostBinary(t)
	return func(c *platform.Config) {
		c.NoLocalNode = false
		c.NodeExecutable = bin
	}
}

// StartServer starts a platform with a fresh data dir (or cfg.DataDir when
// set) on 127.0.0.1:0, and stops it when the test ends. It has no embedded
// node unless WithLocalNode is given.
func StartServer(t testing.TB, cfg platform.Config, opts ...Option) *Server {
	t.Helper()
	cfg.NoLocalNode = true
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
		// Sandboxes run as unprivileged uids that must reach the data dir.
		_ = os.Chmod(filepath.Dir(cfg.DataDir), 0o711)
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	var out bytes.Buffer
	cfg.Out = &out
	if cfg.Logger == nil {
		level := "error"
		if os.Getenv("ROOST_TEST_LOG") != "" {
			level = os.Getenv("ROOST_TEST_LOG")
		}
		cfg.Logger = platform.NewLogger(os.Stderr, level, "text")
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := platform.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("start platform: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	s := &Server{Server: srv, URL: srv.URL(), DataDir: cfg.DataDir, Banner: out.String()}
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("platform stopped with: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		s.stop()
		if !cfg.NoLocalNode {
			KillSandboxes(cfg.DataDir)
		}
	})
	lines := strings.Split(strings.TrimSpace(s.Banner), "\n")
	if last := lines[len(lines)-1]; strings.HasPrefix(last, "rk_") {
		s.AdminKey = last
	}
	return s
}
