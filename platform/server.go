package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/labstack/echo/v4"

	"github.com/roosthq/roost/bundles"
	"github.com/roosthq/roost/files"
	"github.com/roosthq/roost/fleet"
	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/node"
	"github.com/roosthq/roost/platform/audit"
	"github.com/roosthq/roost/platform/auth"
	"github.com/roosthq/roost/publish"
	"github.com/roosthq/roost/resources"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/sandbox"
	"github.com/roosthq/roost/services"
	"github.com/roosthq/roost/sessions"
	"github.com/roosthq/roost/storage"
	"github.com/roosthq/roost/storage/blob"
)

// Server is a running platform.
type Server struct {
	cfg     Config
	log     *slog.Logger
	db      *storage.DB
	auditDB *storage.DB
	keys    *auth.Keys
	signer  *auth.Signer
	// baseOrigin and allowedOrigins may send the instance cookie.
	baseOrigin     string
	allowedOrigins map[string]bool
	templates      *sandbox.Templates
	instances      *instance.Service
	blobs          blob.Store
	files          *files.Service
	resources      *resources.Service
	bundles        *bundles.Service
	fleet          *fleet.Fleet
	sandboxes      *sandbox.Service
	sessions       *sessions.Service
	services       *services.Service
	publish        *publish.Service
	localNode      *node.Node
	audit          *audit.Log
	metrics        *metrics
	platform       *rpc.Registry
	instance       *rpc.Registry
	echo           *echo.Echo
	http           *http.Server

	// transports keeps the transports of the service proxy.
	transports transportCache

	schemaOnce sync.Once
	schema     map[string]any
	ln         net.Listener
}

// New opens everything the platform needs and binds its listener; Serve
// starts answering. On a first start it creates the org "default" and prints
// an admin API key to cfg.Out.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, allowedOrigins: map[string]bool{}}
	for _, o := range cfg.AllowedOrigins {
		s.allowedOrigins[o] = true
	}
	var err error
	if s.templates, err = sandbox.LoadTemplates(cfg.TemplatesDir); err != nil {
		return nil, err
	}
	if s.db, err = storage.OpenSQLite(ctx, DBPath(cfg.DataDir)); err != nil {
		return nil, err
	}
	if s.signer, err = auth.LoadSigner(TokenKeyPath(cfg.DataDir)); err != nil {
		s.db.Close()
		return nil, err
	}
	s.keys = auth.NewKeys(s.db)
	if s.blobs, err = openBlobs(ctx, cfg); err != nil {
		s.db.Close()
		return nil, err
	}
	s.files = files.NewService(files.Options{DB: s.db, Blobs: s.blobs, MaxUpload: cfg.MaxUpload, Logger: s.log})
	s.resources = resources.NewService(s.db, s.files)
	s.bundles = bundles.NewService(bundles.Options{DB: s.db, Files: s.files})
	s.instances = instance.NewService(instance.Options{Store: instance.NewStore(s.db), Templates: s.templates, Bundles: s.bundles, Tokens: s.signer})
	if n, err := s.files.Sweep(ctx); err != nil {
		s.db.Close()
		return nil, err
	} else if n > 0 {
		s.log.Info("removed uploads left unfinished by a previous run", "files", n)
	}
	if s.auditDB, err = storage.OpenSQLiteBare(ctx, AuditDBPath(cfg.DataDir)); err != nil {
		s.close(ctx)
		return nil, err
	}
	if err := audit.Schema(ctx, s.auditDB); err != nil {
		s.close(ctx)
		return nil, err
	}
	s.audit = audit.New(audit.Options{DB: s.auditDB, RequestID: RequestID, Logger: s.log})
	s.fleet = fleet.New(fleet.Options{DB: s.db, Logger: s.log})
	s.sandboxes = sandbox.NewService(sandbox.ServiceOptions{DB: s.db, Fleet: s.fleet, Templates: s.templates,
		Instances: s.instances, Bundles: bundlesForSandboxes{s.bundles}, Logger: s.log, ReadyWait: cfg.SandboxWait, Audit: s.audit,
		WarmPool: cfg.WarmPool})
	s.instances.SetSandboxes(s.sandboxes)
	s.sessions = sessions.NewService(sessions.Options{DB: s.db, Instances: s.instances, Sandboxes: s.sandboxes,
		Bundles: s.bundles, Files: s.files, Resources: s.resources, Tokens: s.signer, Logger: s.log})
	s.services = services.NewService(services.Options{DB: s.db, Instances: s.instances, Sandboxes: s.sandboxes,
		Sessions: s.sessions, Bundles: s.bundles, BaseURL: func() string { return s.cfg.BaseURL }, ServiceDomain: cfg.ServiceDomain})
	s.publish = publish.NewService(publish.Options{Instances: s.instances, Sandboxes: s.sandboxes, Sessions: s.sessions,
		Git: publish.GitOptions{Dir: GitDir(cfg.DataDir), Remote: cfg.GitRemote, Token: cfg.GitToken}, Logger: s.log})
	s.instances.SetSessions(sessionsForInstances{s.sessions, s.services})
	if err := s.sandboxes.MarkStaleExecs(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	s.metrics = newMetrics()

	observers := []rpc.Observer{s.metrics, s.audit}
	s.platform = rpc.New(rpc.Options{Name: "platform", Observers: observers, Logger: s.log})
	s.instance = rpc.New(rpc.Options{Name: "instance", Observers: observers, Logger: s.log})
	s.registerMethods()
	s.echo = s.routes()

	banner, err := s.bootstrap(ctx)
	if err != nil {
		s.close(ctx)
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		s.close(ctx)
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if s.cfg.BaseURL == "" {
		s.cfg.BaseURL = "http://" + s.ln.Addr().String()
	}
	s.cfg.BaseURL = strings.TrimRight(s.cfg.BaseURL, "/")
	if u, err := url.Parse(s.cfg.BaseURL); err == nil && u.Host != "" {
		s.baseOrigin = strings.ToLower(u.Scheme + "://" + u.Host)
	}
	if !cfg.NoLocalNode {
		if s.localNode, err = s.prepareLocalNode(ctx); err != nil {
			s.ln.Close()
			s.close(ctx)
			return nil, err
		}
	}
	s.http = &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}

	s.log.Info("roost platform configured", "listen", s.ln.Addr().String(), "url", s.cfg.BaseURL,
		"data", cfg.DataDir, "blobs", s.blobs.Kind(), "max_upload", cfg.MaxUpload, "templates", strings.Join(s.templates.Slugs(), ","))
	fmt.Fprintf(cfg.Out, "roost is listening on %s\n", s.cfg.BaseURL)
	if banner != "" {
		fmt.Fprint(cfg.Out, banner)
	}
	return s, nil
}

// URL is the platform's base URL.
func (s *Server) URL() string { return s.cfg.BaseURL }

// Serve answers requests until ctx ends, then shuts down gracefully (30 s)
// and closes everything.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	nodeCtx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
	nodeDone := make(chan struct{})
	go func() {
		defer close(nodeDone)
		if s.localNode != nil {
			if err := s.localNode.Run(nodeCtx); err != nil {
				s.log.Error("local node stopped", "err", err)
			}
		}
	}()
	defer func() {
		stopNode()
		<-nodeDone
	}()
	select {
	case err := <-errc:
		s.close(context.Background())
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	stopNode()
	<-nodeDone
	if s.localNode != nil {
		if n := s.localNode.Running(); n > 0 {
			what := fmt.Sprintf("%d sandboxes of the embedded node keep", n)
			if n == 1 {
				what = "1 sandbox of the embedded node keeps"
			}
			fmt.Fprintf(s.cfg.Out, "roost stopped. %s running; the next start picks them up again.\n"+
				"To end them now: roost node --data %s --kill-sandboxes\n", what, filepath.Join(s.cfg.DataDir, "node"))
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if err != nil {
		s.http.Close()
	}
	s.close(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) close(ctx context.Context) {
	if s.sessions != nil {
		s.sessions.Close()
	}
	if s.sandboxes != nil {
		s.sandboxes.Close()
	}
	if s.fleet != nil {
		s.fleet.Close()
	}
	if s.audit != nil {
		if err := s.audit.Close(ctx); err != nil {
			s.log.Warn("audit log not fully written", "err", err)
		}
	}
	if s.auditDB != nil {
		s.auditDB.Close()
	}
	if s.db != nil {
		s.db.Close()
	}
}

func openBlobs(ctx context.Context, cfg Config) (blob.Store, error) {
	if cfg.S3.Endpoint != "" {
		return blob.OpenS3(ctx, cfg.S3)
	}
	return blob.OpenFS(BlobDir(cfg.DataDir))
}

// bootstrap creates the default org and its first admin key on first start,
// and returns the banner that shows the key once.
func (s *Server) bootstrap(ctx context.Context) (string, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM orgs`); err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	org, _, err := s.keys.EnsureOrg(ctx, "default")
	if err != nil {
		return "", err
	}
	key, secret, err := s.keys.CreateOperator(ctx, org.ID, "admin")
	if err != nil {
		return "", err
	}
	s.log.Info("first start: created org and admin key", "org", org.Name, "key_id", key.ID)
	demo := ""
	if s.cfg.DemoAgent != "" {
		rev, err := s.publishDemo(ctx, org.ID)
		if err != nil {
			return "", err
		}
		demo = fmt.Sprintf("Published the demo agent as bundle \"echo\" (revision %s).\n", rev)
	}
	return fmt.Sprintf("%sFirst start: created organization %q and an operator API key (an admin key that also runs the fleet; shown once, store it now):\n%s\n", demo, org.Name, secret), nil
}

// Keys is the platform's API-key store (for admin commands and tests).
func (s *Server) Keys() *auth.Keys { return s.keys }

// AuditDB is the database of the audit log.
func (s *Server) AuditDB() *storage.DB { return s.auditDB }

// DB is the platform's database.
func (s *Server) DB() *storage.DB { return s.db }

// PlatformMethods lists the methods registered on the platform RPC.
func (s *Server) PlatformMethods() []rpc.Method { return s.platform.Methods() }

// InstanceMethods lists the methods registered on the instance RPC.
func (s *Server) InstanceMethods() []rpc.Method { return s.instance.Methods() }

// Audit is the platform's audit log writer.
func (s *Server) Audit() *audit.Log { return s.audit }

// Fleet is the platform's fleet of nodes.
func (s *Server) Fleet() *fleet.Fleet { return s.fleet }

// LocalNode is the embedded node, or nil with NoLocalNode.
func (s *Server) LocalNode() *node.Node { return s.localNode }

// prepareLocalNode sets up the embedded node: it enrolls as any node does
// (over loopback; on its first start the platform makes it an enrollment
// token) and carries the same tunnel, but on an in-memory connection into
// the fleet rather than a websocket to its own process.
func (s *Server) prepareLocalNode(ctx context.Context) (*node.Node, error) {
	dir := filepath.Join(s.cfg.DataDir, "node")
	o := node.Options{Platform: "http://" + s.ln.Addr().String(), DataDir: dir, Name: "local",
		Labels: []string{"local"}, Version: Version, Logger: s.log.With("component", "local-node"),
		Executable: s.cfg.NodeExecutable, Connect: s.connectLocal}
	if _, err := os.Stat(filepath.Join(dir, "node.json")); err != nil {
		tok, _, err := s.fleet.CreateEnrollToken(ctx, "platform", 10*time.Minute, nil)
		if err != nil {
			return nil, err
		}
		o.Token = tok
	}
	return node.New(o)
}

// connectLocal is the embedded node's connection to the fleet: the same
// credential check and tunnel as the websocket endpoint, on a pipe.
func (s *Server) connectLocal(ctx context.Context, credential string) (net.Conn, error) {
	n, err := s.fleet.Authenticate(ctx, credential)
	if errors.Is(err, fleet.ErrCredential) {
		return nil, node.ErrCredentialRefused
	}
	if err != nil {
		return nil, err
	}
	nodeEnd, fleetEnd, err := socketPair()
	if err != nil {
		return nil, err
	}
	if s.localNode != nil {
		s.fleet.SetLocal(n.ID, s.localNode)
	}
	go func() {
		if err := s.fleet.Serve(context.Background(), n, fleetEnd); err != nil {
			s.log.Warn("local node connection ended", "err", err)
		}
	}()
	return nodeEnd, nil
}

// socketPair is two connected ends of a unix stream socket: buffered by
// the kernel, where a net.Pipe would make every write wait for its read.
func socketPair() (net.Conn, net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	ends := make([]net.Conn, 2)
	for k, fd := range fds {
		f := os.NewFile(uintptr(fd), "local-node-tunnel")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			if k == 1 {
				ends[0].Close()
			} else {
				unix.Close(fds[1])
			}
			return nil, nil, err
		}
		ends[k] = c
	}
	return ends[0], ends[1], nil
}

// Close releases a server that was made but never served.
func (s *Server) Close() {
	if s.ln != nil {
		s.ln.Close()
	}
	s.close(context.Background())
}
