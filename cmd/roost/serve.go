package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/roosthq/roost/platform"
)

// serveOptions are the flags of `roost serve` that are not Config's own.
type serveOptions struct {
	maxUpload, allowedOrigins, logLevel, logFormat *string
}

// serveFlags defines the flags of `roost serve` on cfg (the README's
// flag table is made from them: TestServeFlagsInREADME).
func serveFlags(cfg *platform.Config) (*flag.FlagSet, serveOptions) {
	fs := newFlags("serve")
	var o serveOptions
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.DataDir, "data", "./data", "data directory (database, keys, files)")
	fs.StringVar(&cfg.TemplatesDir, "templates", "", "directory of extra templates (*.json)")
	fs.StringVar(&cfg.BaseURL, "base-url", "", "URL clients reach the platform at (default from --listen)")
	o.maxUpload = fs.String("max-upload", "5GiB", "largest file the upload endpoint accepts (bytes, or with KiB/MiB/GiB)")
	fs.StringVar(&cfg.S3.Endpoint, "s3-endpoint", "", "S3-compatible endpoint (host:port or URL); files go to S3 when set, else under the data dir")
	fs.StringVar(&cfg.S3.Bucket, "s3-bucket", "roost", "S3 bucket (created if missing)")
	fs.StringVar(&cfg.S3.AccessKey, "s3-access-key", "", "S3 access key")
	fs.StringVar(&cfg.S3.SecretKey, "s3-secret-key", "", "S3 secret key")
	fs.StringVar(&cfg.S3.Region, "s3-region", "", "S3 region")
	fs.BoolVar(&cfg.S3.Insecure, "s3-insecure", false, "talk to the S3 endpoint over plain HTTP")
	fs.StringVar(&cfg.DemoAgent, "demo-agent", "", "on first start, publish this agent binary as the bundle \"echo\" (make run passes the test agent)")
	fs.BoolVar(&cfg.NoLocalNode, "no-local-node", false, "do not start the embedded node")
	fs.DurationVar(&cfg.SandboxWait, "sandbox-wait", 30*time.Second, "how long a call that needs a sandbox waits while it starts")
	fs.IntVar(&cfg.WarmPool, "warm-pool", 0, "sandboxes of each template every node keeps started, for templates without their own warmPool (0 to 64)")
	o.allowedOrigins = fs.String("allowed-origins", "", "comma-separated origins (https://app.example.com) besides the platform's own whose pages may use the instance cookie")
	fs.StringVar(&cfg.ServiceDomain, "service-domain", "", "also serve services at https://{code}.DOMAIN/ (needs wildcard DNS to the platform)")
	fs.StringVar(&cfg.GitRemote, "git-remote", "", "where vcsType github instances push ({instanceId} is replaced), like https://github.com/acme/{instanceId}.git")
	fs.StringVar(&cfg.GitToken, "git-token", "", "token for pushing to --git-remote")
	o.logLevel = fs.String("log-level", "info", "log level: debug, info, warn, error")
	o.logFormat = fs.String("log-format", "text", "log format: text or json")
	return fs, o
}

func cmdServe(args []string) error {
	var cfg platform.Config
	fs, o := serveFlags(&cfg)
	maxUpload, allowedOrigins, logLevel, logFormat := o.maxUpload, o.allowedOrigins, o.logLevel, o.logFormat
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", pos)
	}
	for _, o := range strings.Split(*allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	var err error
	if cfg.MaxUpload, err = parseSize(*maxUpload); err != nil {
		return fmt.Errorf("--max-upload: %w", err)
	}
	platform.Version = version
	cfg.Logger = platform.NewLogger(os.Stderr, *logLevel, *logFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := platform.New(ctx, cfg)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// parseSize reads a byte count: "1048576", "512KiB", "64MiB", "5GiB" (also
// KB/MB/GB as powers of 1000).
func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size like 5GiB", v)
	}
	return n * mult, nil
}
