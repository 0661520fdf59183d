package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/roosthq/roost/bundles"
	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/methods"
)

func cmdBundles(args []string) error {
	if len(args) == 0 || args[0] != "push" {
		return errors.New("usage: roost bundles push DIR --slug SLUG [--name N] [--description D]")
	}
	fs := newFlags("bundles push")
	url := fs.String("url", "http://127.0.0.1:8080", "platform URL")
	key := fs.String("api-key", "", "API key")
	fs.StringVar(key, "key", "", "API key (same as --api-key)")
	slug := fs.String("slug", "", "bundle slug (created on first push)")
	name := fs.String("name", "", "bundle name (default: the manifest's name)")
	desc := fs.String("description", "", "bundle description")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *slug == "" {
		return errors.New("usage: roost bundles push DIR --slug SLUG [--name N] [--description D]")
	}
	dir := pos[0]
	if _, err := os.Stat(filepath.Join(dir, bundles.ManifestName)); err != nil {
		return fmt.Errorf("%s has no %s at its root: a bundle needs its manifest (see docs/agent-protocol.md)", dir, bundles.ManifestName)
	}
	ctx := context.Background()
	c := client.New(*url, *key, nil)

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(bundles.PackDir(dir, pw)) }()
	up, err := c.UploadFile(ctx, filepath.Base(filepath.Clean(dir))+".tar.gz", "application/gzip", pr)
	pr.Close()
	if err != nil {
		return fmt.Errorf("upload %s: %w", dir, err)
	}
	fmt.Fprintf(os.Stderr, "uploaded %s (%d bytes) as %s\n", dir, up.Size, up.FileID)
	out, err := c.PublishBundle(ctx, methods.PublishBundleInput{Slug: *slug, FileID: up.FileID, Name: *name, Description: *desc})
	if err != nil {
		// The archive is of no use unpublished.
		_, _ = c.DeleteFile(ctx, up.FileID)
		return fmt.Errorf("publish: %w", err)
	}
	fmt.Printf("published bundle %s version %s: revision %s (bundle %s)\n", *slug, out.Version, out.RevisionID, out.BundleID)
	return nil
}
