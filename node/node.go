package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/tunnel"
)

// Options configures a node. Zero values take the defaults New fills.
type Options struct {
	// Platform is the platform's base URL (http or https).
	Platform string
	// DataDir keeps the node's state (its credential, mode 0600).
	DataDir string
	// Token is a one-time enrollment token: needed on the first start, and
	// to rotate the credential later.
	Token string
	// Name of the node; default the hostname.
	Name string
	// Labels the scheduler matches against templates' required labels.
	Labels []string
	// Version is reported to the platform.
	Version string
	// Heartbeat is the interval between heartbeats. Default 10 s; each is
	// jittered by up to a tenth.
	Heartbeat time.Duration
	// BackoffBase and BackoffCap bound the reconnect delay. Defaults 500 ms
	// and 30 s.
	BackoffBase, BackoffCap time.Duration
	// Executable is the roost binary that runs sandbox-init; default the
	// running executable.
	Executable string
	// SandboxInit is a dedicated supervisor binary (roost-sandbox-init)
	// that sandboxes start instead of `Executable sandbox-init`: it starts
	// in about half the time. Default: roost-sandbox-init beside
	// Executable, when it is there.
	SandboxInit string
	// MaxStarts bounds how many sandboxes start at once; more wait their
	// turn. Default twice the number of CPUs (a start is CPU-bound).
	MaxStarts int
	// HTTPClient is used for enrollment and the websocket dial.
	HTTPClient *http.Client
	// Connect, if set, gives the node its connection to the platform
	// instead of a websocket dial: the embedded node's, in the platform's
	// own process. It answers ErrCredentialRefused for a refused
	// credential.
	Connect func(ctx context.Context, credential string) (net.Conn, error)
	Logger  *slog.Logger
}

// ErrCredentialRefused is returned by Run when the platform refuses the
// node's credential (the node was removed, or the credential rotated
// elsewhere): retrying cannot help.
var ErrCredentialRefused = errors.New("the platform refused this node's credential; enroll it again with a new token (roost node --token ...)")

// Node is a worker.
type Node struct {
	o        Options
	hostname string
	metrics  *sampler
	started  time.Time
	rt       *runtime

	mu    sync.Mutex
	state state
	peer  *tunnel.Peer
	conns int // successful connections so far
}

// New checks the options and fills defaults.
func New(o Options) (*Node, error) {
	if o.Platform == "" {
		return nil, errors.New("node: the platform URL is required (--platform)")
	}
	o.Platform = strings.TrimRight(o.Platform, "/")
	if !strings.HasPrefix(o.Platform, "http://") && !strings.HasPrefix(o.Platform, "https://") {
		return nil, fmt.Errorf("node: platform URL %q must start with http:// or https://", o.Platform)
	}
	if o.DataDir == "" {
		return nil, errors.New("node: a data dir is required (--data)")
	}
	host, _ := os.Hostname()
	if o.Name == "" {
		o.Name = host
	}
	if o.Labels == nil {
		o.Labels = []string{}
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 500 * time.Millisecond
	}
	if o.BackoffCap <= 0 {
		o.BackoffCap = 30 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 0}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data dir: %w", err)
	}
	n := &Node{o: o, hostname: host, metrics: &sampler{dir: o.DataDir}, started: time.Now()}
	rt, err := newRuntime(runtimeOptions{dataDir: o.DataDir, exe: o.Executable, initExe: o.SandboxInit, maxStarts: o.MaxStarts,
		log: o.Logger, fetch: n.fetchBundle, report: n.reportEvent})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.rt = rt
	return n, nil
}

// ID is the node's id once enrolled.
func (n *Node) ID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state.NodeID
}

// Enroll makes sure the node holds a credential: with a token it enrolls
// (or re-enrolls, rotating the credential); without, it needs one stored.
func (n *Node) Enroll(ctx context.Context) error {
	st, ok, err := loadState(n.o.DataDir)
	if err != nil {
		return err
	}
	if n.o.Token == "" {
		if !ok {
			return errors.New("this node is not enrolled yet: start it once with --token (from `roost nodes token` or nodes.createEnrollToken)")
		}
		n.setState(st)
		return nil
	}
	req := nodeapi.EnrollRequest{Token: n.o.Token, Name: n.o.Name, Hostname: n.hostname, Labels: n.o.Labels, Version: n.o.Version}
	if ok && st.Platform == n.o.Platform {
		req.NodeID = st.NodeID
	}
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, n.o.Platform+nodeapi.EnrollPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := n.o.HTTPClient.Do(hreq)
	if err != nil {
		return fmt.Errorf("enroll at %s: %w", n.o.Platform, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e nodeapi.ErrorResponse
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return fmt.Errorf("enrollment refused: %s", e.Error)
	}
	var out nodeapi.EnrollResponse
	if err := json.Unmarshal(data, &out); err != nil || out.NodeID == "" || out.Credential == "" {
		return fmt.Errorf("enroll: the platform's answer is not an enrollment: %.200s", data)
	}
	st = state{Platform: n.o.Platform, NodeID: out.NodeID, Credential: out.Credential}
	if err := saveState(n.o.DataDir, st); err != nil {
		return fmt.Errorf("save credential: %w", err)
	}
	n.setState(st)
	n.o.Logger.Info("enrolled", "node", st.NodeID, "rotated", req.NodeID != "")
	return nil
}

func (n *Node) setState(st state) {
	n.mu.Lock()
	n.state = st
	n.mu.Unlock()
}

// Run enrolls if needed, then keeps a connection to the platform until ctx
// ends. It returns early only for errors retrying cannot fix.
func (n *Node) Run(ctx context.Context) error {
	if err := n.Enroll(ctx); err != nil {
		return err
	}
	n.rt.restore(ctx)
	defer n.rt.close()
	attempt := 0
	for {
		connected, err := n.connectOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrCredentialRefused) {
			return err
		}
		if connected {
			attempt = 0
		}
		delay := Backoff(n.o.BackoffBase, n.o.BackoffCap, attempt)
		attempt++
		n.o.Logger.Warn("disconnected from the platform; reconnecting", "err", err, "in", delay.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// Backoff is the delay before reconnect attempt n (from 0): exponential from
// base, capped, with "equal jitter" (between half and all of it) so that
// nodes cut off together do not return together.
func Backoff(base, cap time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < cap; i++ {
		d *= 2
	}
	if d > cap {
		d = cap
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func wsURL(platform string) string {
	if rest, ok := strings.CutPrefix(platform, "https://"); ok {
		return "wss://" + rest + nodeapi.ConnectPath
	}
	return "ws://" + strings.TrimPrefix(platform, "http://") + nodeapi.ConnectPath
}

// connectOnce holds one connection until it drops; connected tells whether
// it got as far as a working tunnel.
// dialPlatform opens the connection the tunnel runs on: a websocket to the
// platform, or what Options.Connect gives.
func (n *Node) dialPlatform(ctx context.Context, cred string) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if n.o.Connect != nil {
		return n.o.Connect(dctx, cred)
	}
	ws, resp, err := websocket.Dial(dctx, wsURL(n.o.Platform), &websocket.DialOptions{
		HTTPClient: n.o.HTTPClient,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + cred}},
	})
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, ErrCredentialRefused
		}
		return nil, err
	}
	return websocket.NetConn(context.Background(), ws, websocket.MessageBinary), nil
}

func (n *Node) connectOnce(ctx context.Context) (connected bool, err error) {
	n.mu.Lock()
	cred := n.state.Credential
	n.mu.Unlock()
	conn, err := n.dialPlatform(ctx, cred)
	if err != nil {
		return false, err
	}
	peer, err := tunnel.Dial(conn, n.api())
	if err != nil {
		conn.Close()
		return false, err
	}
	defer peer.Close()
	n.mu.Lock()
	n.peer = peer
	n.conns++
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.peer = nil
		n.mu.Unlock()
	}()

	if err := n.post(ctx, peer, nodeapi.HelloPath, n.hello()); err != nil {
		return false, fmt.Errorf("hello: %w", err)
	}
	n.o.Logger.Info("connected to the platform", "platform", n.o.Platform, "node", n.ID())
	for {
		wait := n.o.Heartbeat - time.Duration(rand.Int64N(int64(n.o.Heartbeat)/10+1))
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-peer.Done():
			return true, errors.New("the connection closed")
		case <-time.After(wait):
		}
		if err := n.post(ctx, peer, nodeapi.HeartbeatPath, n.sample()); err != nil {
			return true, fmt.Errorf("heartbeat: %w", err)
		}
	}
}

// Running is how many sandboxes the node runs.
func (n *Node) Running() int { return len(n.rt.ids()) }

// Metrics is what the node's next heartbeat would report.
func (n *Node) Metrics() nodeapi.Metrics { return n.sample() }

// SetPools replaces the warm pools the node keeps (what the platform does
// through PoolPath when the node connects), and answers them.
func (n *Node) SetPools(cfg nodeapi.PoolConfig) ([]nodeapi.PoolStatus, error) {
	if err := n.rt.setPools(cfg); err != nil {
		return nil, err
	}
	return n.rt.poolStatus(), nil
}

func (n *Node) sample() nodeapi.Metrics {
	m := n.metrics.sample(n.o.Version, len(n.rt.ids()))
	if p := n.rt.poolStatus(); len(p) > 0 {
		m.WarmPools = p
	}
	m.Starts = n.rt.pool.startStats()
	m.Disks = n.rt.disks()
	return m
}

// reportEvent tells the platform what happened to a sandbox.
func (n *Node) reportEvent(ev nodeapi.SandboxEvent) error {
	n.mu.Lock()
	peer := n.peer
	n.mu.Unlock()
	if peer == nil {
		return errors.New("not connected to the platform")
	}
	return n.post(context.Background(), peer, nodeapi.SandboxEventsPath, ev)
}

func (n *Node) hello() nodeapi.Hello {
	return nodeapi.Hello{Name: n.o.Name, Hostname: n.hostname, Labels: n.o.Labels, Version: n.o.Version,
		Sandboxes: n.rt.ids(), Metrics: n.sample(), StartedAt: n.started,
		HeartbeatMs: n.o.Heartbeat.Milliseconds()}
}

// post sends a JSON body to the platform through the tunnel.
func (n *Node) post(ctx context.Context, peer *tunnel.Peer, path string, v any) error {
	body, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+nodeapi.TunnelHost+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := peer.Client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered HTTP %d", path, resp.StatusCode)
	}
	return nil
}

// Connections counts the connections made so far (for tests and logs).
func (n *Node) Connections() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conns
}
