package platform

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/roosthq/roost/files"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/storage/blob"
)

// Config is what `roost serve` is started with. Zero values take the
// defaults that New fills.
type Config struct {
	// Listen is the address to serve on. Default 127.0.0.1:8080.
	Listen string
	// DataDir holds the database, signing keys and files. Default ./data.
	DataDir string
	// TemplatesDir holds extra templates as JSON files; may be empty.
	TemplatesDir string
	// BaseURL is the URL clients reach the platform at; default from Listen.
	BaseURL string
	// Logger logs; default a text logger on stderr at info.
	Logger *slog.Logger
	// MaxUpload is the largest file accepted by the upload endpoint.
	// Default 5 GiB.
	MaxUpload int64
	// S3 selects the s3 blob store when S3.Endpoint is set; otherwise files
	// live under DataDir/blobs.
	S3 blob.S3Options
	// NoLocalNode leaves out the embedded node.
	NoLocalNode bool
	// NodeExecutable is the roost binary the embedded node starts sandboxes
	// with; default the running executable.
	NodeExecutable string
	// ServiceDomain, when set, gives services https://{code}.DOMAIN/ too
	// (a wildcard DNS name pointing at the platform).
	ServiceDomain string
	// GitRemote is where vcsType github instances push ({instanceId} is
	// replaced); GitToken authenticates the push.
	GitRemote, GitToken string
	// DemoAgent is an agent binary (cmd/roost-test-agent) that a first
	// start publishes as the bundle "echo" of the default organization.
	DemoAgent string
	// SandboxWait bounds how long a call that needs a sandbox waits while
	// it starts. Default 30 s.
	SandboxWait time.Duration
	// AllowedOrigins are the origins (scheme://host[:port]) besides the
	// platform's own whose pages may send the instance cookie.
	AllowedOrigins []string
	// WarmPool is how many sandboxes of each template every node keeps
	// started and idle, for templates without their own warmPool.
	WarmPool int
	// Out receives the first-start banner (URL and admin key). Default stdout.
	Out io.Writer
}

func (c *Config) fill() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.Logger == nil {
		c.Logger = NewLogger(os.Stderr, "info", "text")
	}
	if c.MaxUpload <= 0 {
		c.MaxUpload = files.DefaultMaxUpload
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	for i, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("--allowed-origins: %q is not an origin; give scheme://host[:port], like https://app.example.com", o)
		}
		c.AllowedOrigins[i] = strings.ToLower(u.Scheme + "://" + u.Host)
	}
	if c.WarmPool < 0 || c.WarmPool > nodeapi.MaxPoolSize {
		return fmt.Errorf("--warm-pool %d must be 0 to %d", c.WarmPool, nodeapi.MaxPoolSize)
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if !c.NoLocalNode {
		// The embedded node's sandboxes run as unprivileged users who must
		// pass through the data dir to reach their own directories under
		// node/; searchable, not listable, and nothing else in it is theirs.
		if err := os.Chmod(c.DataDir, 0o711); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	return nil
}

// DBPath is the SQLite database file in a data dir.
func DBPath(dataDir string) string { return filepath.Join(dataDir, "roost.db") }

// AuditDBPath is the audit log's own SQLite file in a data dir.
func AuditDBPath(dataDir string) string { return filepath.Join(dataDir, "audit.db") }

// TokenKeyPath is the instance-token signing key in a data dir.
func TokenKeyPath(dataDir string) string { return filepath.Join(dataDir, "keys", "token.key") }

// BlobDir is the fs blob store's directory in a data dir.
func BlobDir(dataDir string) string { return filepath.Join(dataDir, "blobs") }

// Version is the running roost's version, set by cmd/roost.
var Version = "dev"

// GitDir is where the platform keeps instances' bare repositories.
func GitDir(dataDir string) string { return filepath.Join(dataDir, "git") }
