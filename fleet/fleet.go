package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/node/tunnel"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// MissedHeartbeats is how many heartbeats a node may miss before it is
// marked offline and its connection closed.
const MissedHeartbeats = 3

// DefaultHeartbeat is assumed until a node says its interval.
const DefaultHeartbeat = 10 * time.Second

// Options configures a Fleet.
type Options struct {
	DB     *storage.DB
	Logger *slog.Logger
	// WatchEvery is how often heartbeats are checked. Default 1 s.
	WatchEvery time.Duration
}

// Fleet is the set of nodes: their records, their live connections, their
// heartbeats; it schedules work onto them and calls them.
type Fleet struct {
	store nodeStore
	log   *slog.Logger
	every time.Duration

	mu     sync.Mutex
	hooks  Hooks
	live   map[string]*liveNode
	local  map[string]LocalDialer
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

type liveNode struct {
	peer      *tunnel.Peer
	interval  time.Duration
	lastBeat  time.Time
	metrics   nodeapi.Metrics
	sandboxes []string
}

// New starts a fleet's heartbeat watchdog. Every node is offline until
// it connects.
func New(o Options) *Fleet {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.WatchEvery <= 0 {
		o.WatchEvery = time.Second
	}
	f := &Fleet{store: nodeStore{o.DB}, log: o.Logger, every: o.WatchEvery, live: map[string]*liveNode{}, stop: make(chan struct{})}
	f.wg.Add(1)
	go f.watch()
	return f
}

// Close disconnects every node and stops the watchdog.
func (f *Fleet) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.stop)
	peers := make([]*tunnel.Peer, 0, len(f.live))
	for _, l := range f.live {
		peers = append(peers, l.peer)
	}
	f.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	f.wg.Wait()
}

func (f *Fleet) watch() {
	defer f.wg.Done()
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case now := <-t.C:
			f.mu.Lock()
			var stale []*tunnel.Peer
			for id, l := range f.live {
				if now.Sub(l.lastBeat) > MissedHeartbeats*l.interval {
					f.log.Warn("node missed heartbeats; disconnecting it", "node", id, "last", l.lastBeat)
					stale = append(stale, l.peer)
				}
			}
			f.mu.Unlock()
			for _, p := range stale {
				p.Close()
			}
		}
	}
}

// Hooks are what the sandbox service learns from nodes.
type Hooks struct {
	// OnHello reconciles a node's complete list of the sandboxes it runs.
	OnHello func(nodeID string, sandboxes []string)
	// OnEvent records what a node reports of one sandbox.
	OnEvent func(nodeID string, ev nodeapi.SandboxEvent)
	// OpenBundle streams a bundle revision's archive to a node.
	OpenBundle func(ctx context.Context, revisionID string) (io.ReadCloser, error)
	// NodesOf lists the nodes an organization's live sandboxes run on.
	NodesOf func(ctx context.Context, orgID string) ([]string, error)
}

// SetHooks connects the fleet to what listens to nodes.
func (f *Fleet) SetHooks(h Hooks) {
	f.mu.Lock()
	f.hooks = h
	f.mu.Unlock()
}

func (f *Fleet) getHooks() Hooks {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hooks
}

// Enroll spends an enrollment token for a node.
func (f *Fleet) Enroll(ctx context.Context, req nodeapi.EnrollRequest) (nodeapi.EnrollResponse, error) {
	id, cred, err := f.store.enroll(ctx, req)
	if err != nil {
		return nodeapi.EnrollResponse{}, err
	}
	// A rotated credential ends a connection made with the old one.
	f.disconnect(id)
	f.log.Info("node enrolled", "node", id, "name", req.Name)
	return nodeapi.EnrollResponse{NodeID: id, Credential: cred}, nil
}

// CheckToken tells whether an enrollment token may still be used.
func (f *Fleet) CheckToken(ctx context.Context, tok string) error {
	return f.store.checkToken(ctx, tok)
}

// CreateEnrollToken makes a one-time token for a node of the shared
// fleet.
func (f *Fleet) CreateEnrollToken(ctx context.Context, createdBy string, ttl time.Duration, labels []string) (string, time.Time, error) {
	return f.store.createToken(ctx, "", createdBy, ttl, labels)
}

// CreateOrgEnrollToken makes a one-time token for a node of orgID's own.
func (f *Fleet) CreateOrgEnrollToken(ctx context.Context, orgID, createdBy string, ttl time.Duration, labels []string) (string, time.Time, error) {
	return f.store.createToken(ctx, orgID, createdBy, ttl, labels)
}

// Authenticate returns the node holding a credential.
func (f *Fleet) Authenticate(ctx context.Context, cred string) (NodeRow, error) {
	return f.store.byCredential(ctx, cred)
}

func (f *Fleet) disconnect(id string) {
	f.mu.Lock()
	l := f.live[id]
	f.mu.Unlock()
	if l != nil {
		l.peer.Close()
	}
}

// Serve runs a node's connection: it holds the tunnel over conn until it
// drops or the fleet closes, and marks the node offline at once after.
func (f *Fleet) Serve(ctx context.Context, n NodeRow, conn net.Conn) error {
	l := &liveNode{interval: DefaultHeartbeat, lastBeat: time.Now()}
	peer, err := tunnel.Accept(conn, f.nodeHandler(n.ID, l))
	if err != nil {
		conn.Close()
		return err
	}
	l.peer = peer
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		peer.Close()
		return errors.New("the fleet is shutting down")
	}
	old := f.live[n.ID]
	f.live[n.ID] = l
	f.mu.Unlock()
	if old != nil {
		old.peer.Close() // the newer connection wins
	}
	_, _ = f.store.db.ExecContext(ctx, `UPDATE nodes SET connected_at = ? WHERE id = ?`, storage.Now(), n.ID)
	f.log.Info("node connected", "node", n.ID, "name", n.Name, "remote", peer.RemoteAddr())

	select {
	case <-peer.Done():
	case <-f.stop:
		peer.Close()
	}
	f.mu.Lock()
	if f.live[n.ID] == l {
		delete(f.live, n.ID)
	}
	f.mu.Unlock()
	f.log.Info("node disconnected", "node", n.ID, "name", n.Name)
	return nil
}

// nodeHandler is the platform's API to one node, served through its tunnel.
func (f *Fleet) nodeHandler(id string, l *liveNode) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+nodeapi.HelloPath, func(w http.ResponseWriter, r *http.Request) {
		var h nodeapi.Hello
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&h); err != nil {
			http.Error(w, "bad hello", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		if h.HeartbeatMs > 0 {
			l.interval = time.Duration(h.HeartbeatMs) * time.Millisecond
		}
		l.lastBeat, l.metrics, l.sandboxes = time.Now(), h.Metrics, h.Sandboxes
		f.mu.Unlock()
		mj, _ := json.Marshal(h.Metrics)
		if _, err := f.store.db.ExecContext(r.Context(), `UPDATE nodes SET hostname = ?, version = ?, metrics = ?, last_heartbeat_at = ? WHERE id = ?`,
			h.Hostname, h.Version, string(mj), storage.Now(), id); err != nil {
			f.log.Error("record hello", "node", id, "err", err)
		}
		f.log.Info("node reported", "node", id, "sandboxes", len(h.Sandboxes), "version", h.Version)
		w.WriteHeader(http.StatusOK)
		if hk := f.getHooks(); hk.OnHello != nil {
			go hk.OnHello(id, h.Sandboxes)
		}
	})
	mux.HandleFunc("POST "+nodeapi.SandboxEventsPath, func(w http.ResponseWriter, r *http.Request) {
		var ev nodeapi.SandboxEvent
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		if hk := f.getHooks(); hk.OnEvent != nil {
			hk.OnEvent(id, ev)
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET "+nodeapi.BundlePath, func(w http.ResponseWriter, r *http.Request) {
		hk := f.getHooks()
		if hk.OpenBundle == nil {
			http.Error(w, "no bundles here", http.StatusNotFound)
			return
		}
		rc, err := hk.OpenBundle(r.Context(), r.PathValue("revision"))
		if err != nil {
			http.Error(w, "no such bundle revision", http.StatusNotFound)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, rc)
	})
	mux.HandleFunc("POST "+nodeapi.HeartbeatPath, func(w http.ResponseWriter, r *http.Request) {
		var m nodeapi.Metrics
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
			http.Error(w, "bad heartbeat", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		l.lastBeat, l.metrics = time.Now(), m
		f.mu.Unlock()
		mj, _ := json.Marshal(m)
		if _, err := f.store.db.ExecContext(r.Context(), `UPDATE nodes SET metrics = ?, last_heartbeat_at = ? WHERE id = ?`,
			string(mj), storage.Now(), id); err != nil {
			f.log.Error("record heartbeat", "node", id, "err", err)
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// Online reports whether a node is connected.
func (f *Fleet) Online(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.live[id]
	return ok
}

// Unavailable is the error of a call to a node that is not connected or
// whose connection dropped during the call.
func Unavailable(nodeID string, cause error) error {
	return rpc.Errorf(methods.Unavailable, "The node %s is not connected, or its connection dropped. Retry in a moment; if it persists, check the node.", nodeID).Wrap(cause)
}

// do sends req (whose URL path is a node API path) to a node through its
// tunnel. A node that is not connected, or whose connection drops before
// the response headers, answers unavailable at once.
func (f *Fleet) do(req *http.Request, nodeID string) (*http.Response, error) {
	f.mu.Lock()
	l := f.live[nodeID]
	f.mu.Unlock()
	if l == nil {
		return nil, Unavailable(nodeID, nil)
	}
	req.URL.Scheme, req.URL.Host, req.Host = "http", nodeapi.TunnelHost, nodeapi.TunnelHost
	resp, err := l.peer.Client().Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, Unavailable(nodeID, err)
	}
	return resp, nil
}

// status derives a node's status from its record and its connection.
func (f *Fleet) status(r NodeRow) string {
	switch {
	case !f.Online(r.ID):
		return methods.NodeOffline
	case r.Draining:
		return methods.NodeDraining
	}
	return methods.NodeOnline
}

// Wire is a node as nodes.get shows it to an operator or its owner.
func (f *Fleet) Wire(r NodeRow) methods.Node {
	n := methods.Node{ID: r.ID, Name: r.Name, Hostname: r.Hostname, Status: f.status(r), Labels: r.LabelList(),
		Version: r.Version, CreatedAt: storage.FormatTime(r.CreatedAt), Shared: r.OrgID == ""}
	if r.Metrics.Valid {
		var m methods.NodeMetrics
		if json.Unmarshal([]byte(r.Metrics.String), &m) == nil {
			n.Metrics = &m
		}
	}
	if r.LastHeartbeatAt.Valid {
		s := storage.FormatTime(r.LastHeartbeatAt.Int64)
		n.LastHeartbeatAt = &s
	}
	return n
}

// wireShared is a shared node as an organization that runs instances on
// it sees it: what it is and whether it is up, not the machine's name,
// load or what else it runs.
func (f *Fleet) wireShared(r NodeRow) methods.Node {
	return methods.Node{ID: r.ID, Name: r.Name, Status: f.status(r), Labels: r.LabelList(), Version: r.Version,
		CreatedAt: storage.FormatTime(r.CreatedAt), Shared: true}
}

// Get returns a node's record.
func (f *Fleet) Get(ctx context.Context, id string) (NodeRow, error) { return f.store.get(ctx, id) }

// List returns every node's record.
func (f *Fleet) List(ctx context.Context) ([]NodeRow, error) { return f.store.list(ctx) }

// SetDraining marks a node draining (no new work) or not.
func (f *Fleet) SetDraining(ctx context.Context, id string, draining bool) error {
	res, err := f.store.db.ExecContext(ctx, `UPDATE nodes SET draining = ? WHERE id = ?`, draining, id)
	if err != nil {
		return fmt.Errorf("drain node: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNodeNotFound
	}
	return nil
}

// Remove deletes a node: its credential stops working and its connection
// is closed.
func (f *Fleet) Remove(ctx context.Context, id string) error {
	res, err := f.store.db.ExecContext(ctx, `DELETE FROM nodes WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("remove node: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNodeNotFound
	}
	f.disconnect(id)
	return nil
}

// liveLoad is a connected node's load, as the scheduler weighs it.
type liveLoad struct {
	running int
	load1   float64
	cpu     float64
}

func (f *Fleet) loads() map[string]liveLoad {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]liveLoad, len(f.live))
	for id, l := range f.live {
		out[id] = liveLoad{running: l.metrics.RunningSandboxes, load1: l.metrics.LoadAverage[0], cpu: l.metrics.CPUUsage}
	}
	return out
}
