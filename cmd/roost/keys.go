package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/platform/auth"
	"github.com/roosthq/roost/storage"
)

func cmdKeys(args []string) error {
	if len(args) == 0 {
		return errors.New("keys needs a subcommand: create, list or revoke")
	}
	sub, args := args[0], args[1:]
	fs := newFlags("keys " + sub)
	dataDir := fs.String("data", "./data", "data directory of the platform")
	var org, name string
	var admin, operator bool
	if sub == "create" {
		fs.StringVar(&org, "org", "", "organization (created if missing)")
		fs.StringVar(&name, "name", "", "a label for the key")
		fs.BoolVar(&admin, "admin", false, "make an admin key")
		fs.BoolVar(&operator, "operator", false, "make an operator key: an admin key that also runs the shared fleet (nodes.*)")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := os.Stat(*dataDir); err != nil {
		return fmt.Errorf("data dir %s: %w (give the platform's with --data)", *dataDir, err)
	}
	if abs, err := filepath.Abs(*dataDir); err == nil {
		fmt.Fprintf(os.Stderr, "keys of the platform in %s\n", abs)
	}
	db, err := storage.OpenSQLite(ctx, platform.DBPath(*dataDir))
	if err != nil {
		return err
	}
	defer db.Close()
	keys := auth.NewKeys(db)

	switch sub {
	case "create":
		if org == "" {
			return errors.New("keys create needs --org NAME")
		}
		if name == "" {
			name = "cli"
		}
		o, created, err := keys.EnsureOrg(ctx, org)
		if err != nil {
			return err
		}
		if created {
			fmt.Printf("created organization %q (%s)\n", o.Name, o.ID)
		}
		create := func() (auth.Key, string, error) { return keys.Create(ctx, o.ID, name, admin) }
		if operator {
			create = func() (auth.Key, string, error) { return keys.CreateOperator(ctx, o.ID, name) }
		}
		k, secret, err := create()
		if err != nil {
			return err
		}
		kind := "key"
		switch {
		case operator:
			kind = "operator key"
		case admin:
			kind = "admin key"
		}
		fmt.Printf("created %s %s %q for organization %q; it is shown once:\n%s\n", kind, k.ID, k.Name, o.Name, secret)
	case "list":
		if len(pos) != 0 {
			return errors.New("keys list takes no arguments")
		}
		list, err := keys.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tORG\tNAME\tPREFIX\tADMIN\tOPERATOR\tCREATED\tREVOKED")
		for _, k := range list {
			revoked := "-"
			if k.RevokedAt.Valid {
				revoked = storage.FormatTime(k.RevokedAt.Int64)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s…\t%v\t%v\t%s\t%s\n", k.ID, k.OrgName, k.Name, k.Prefix, k.Admin || k.Operator, k.Operator, storage.FormatTime(k.CreatedAt), revoked)
		}
		return tw.Flush()
	case "revoke":
		if len(pos) != 1 {
			return errors.New("keys revoke needs the key id: roost keys revoke key_...")
		}
		if err := keys.Revoke(ctx, pos[0]); err != nil {
			if errors.Is(err, auth.ErrKeyNotFound) {
				return fmt.Errorf("no API key with id %s", pos[0])
			}
			return err
		}
		fmt.Printf("revoked %s\n", pos[0])
	default:
		return fmt.Errorf("unknown keys subcommand %q: use create, list or revoke", sub)
	}
	return nil
}
