package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node"
	"github.com/roosthq/roost/platform"
)

func splitLabels(s string) []string {
	var out []string
	for _, l := range strings.Split(s, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func cmdNode(args []string) error {
	fs := newFlags("node")
	var o node.Options
	fs.StringVar(&o.Platform, "platform", "", "platform URL, like https://roost.example.com")
	fs.StringVar(&o.Token, "token", "", "one-time enrollment token (first start, or to rotate the credential)")
	fs.StringVar(&o.DataDir, "data", "./node-data", "node data directory (holds the credential)")
	fs.StringVar(&o.Name, "name", "", "node name (default: the hostname)")
	labels := fs.String("labels", "", "comma-separated labels, like gpu,eu")
	fs.StringVar(&o.SandboxInit, "sandbox-init", "", "supervisor binary sandboxes start (default: roost-sandbox-init beside this binary, else `roost sandbox-init`)")
	fs.IntVar(&o.MaxStarts, "max-starts", 0, "sandboxes that may start at once; more wait (default: twice the CPUs)")
	fs.DurationVar(&o.Heartbeat, "heartbeat", 10*time.Second, "heartbeat interval")
	enrollOnly := fs.Bool("enroll-only", false, "enroll, store the credential and exit")
	killAll := fs.Bool("kill-sandboxes", false, "end every sandbox this node's data dir holds, and exit")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("node takes no arguments, got %q", pos)
	}
	if *killAll {
		node.KillAll(o.DataDir)
		fmt.Printf("ended the sandboxes under %s\n", o.DataDir)
		return nil
	}
	o.Labels = splitLabels(*labels)
	o.Version = version
	o.Logger = platform.NewLogger(os.Stderr, *logLevel, "text")
	n, err := node.New(o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *enrollOnly {
		if o.Token == "" {
			return errors.New("--enroll-only needs --token")
		}
		if err := n.Enroll(ctx); err != nil {
			return err
		}
		fmt.Printf("enrolled node %s; its credential is in %s\n", n.ID(), o.DataDir)
		return nil
	}
	return n.Run(ctx)
}

func cmdNodes(args []string) error {
	usage := errors.New("usage: roost nodes list | get ID | token [--labels a,b] [--ttl SECONDS] | drain ID | undrain ID | remove ID")
	if len(args) == 0 {
		return usage
	}
	sub := args[0]
	fs := newFlags("nodes " + sub)
	url := fs.String("url", "http://127.0.0.1:8080", "platform URL")
	key := fs.String("api-key", "", "admin API key")
	fs.StringVar(key, "key", "", "admin API key (same as --api-key)")
	labels := fs.String("labels", "", "labels for the node enrolled with the token")
	ttl := fs.Int("ttl", 3600, "token lifetime in seconds")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	c := client.New(*url, *key, nil)
	ctx := context.Background()
	var out any
	switch sub {
	case "list":
		out, err = c.ListNodes(ctx)
	case "token":
		out, err = c.CreateEnrollToken(ctx, methods.CreateEnrollTokenInput{TTL: ttl, Labels: splitLabels(*labels)})
	case "get", "drain", "undrain", "remove":
		if len(pos) != 1 {
			return usage
		}
		method := map[string]string{"get": methods.NodesGet, "drain": methods.NodesDrain, "undrain": methods.NodesUndrain, "remove": methods.NodesRemove}[sub]
		var v json.RawMessage
		err = c.Call(ctx, method, methods.NodeRef{NodeID: pos[0]}, &v)
		out = v
	default:
		return usage
	}
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	return nil
}
