package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/roosthq/roost/platform"
)

func cmdServe(args []string) error {
	fs := newFlags("serve")
	var cfg platform.Config
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.DataDir, "data", "./data", "data directory (database, keys, files)")
	fs.StringVar(&cfg.TemplatesDir, "templates", "", "directory of extra templates (*.json)")
	fs.StringVar(&cfg.BaseURL, "base-url", "", "URL clients reach the platform at (default from --listen)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Logger = platform.NewLogger(os.Stderr, *logLevel, *logFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := platform.New(ctx, cfg)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}
