package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/roosthq/roost/clients/go"
)

func cmdRPC(args []string) error {
	fs := newFlags("rpc")
	url := fs.String("url", "http://127.0.0.1:8080", "platform URL")
	key := fs.String("api-key", "", "API key")
	fs.StringVar(key, "key", "", "API key (same as --api-key)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return errors.New("usage: roost rpc METHOD [JSON|-]")
	}
	input := json.RawMessage("{}")
	if len(pos) == 2 {
		var b []byte
		if pos[1] == "-" {
			var err error
			if b, err = io.ReadAll(os.Stdin); err != nil {
				return err
			}
		} else {
			b = []byte(pos[1])
		}
		if !json.Valid(b) {
			return errors.New("the input is not valid JSON")
		}
		input = b
	}
	body, _ := json.Marshal(map[string]any{"method": pos[0], "input": input})
	value, err := client.New(*url, *key, nil).CallRaw(context.Background(), body)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) {
			out, _ := json.MarshalIndent(map[string]any{"ok": false, "error": map[string]any{
				"type": ce.Type, "message": ce.Message, "details": ce.Details}}, "", "  ")
			fmt.Println(string(out))
			return exitError(1)
		}
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, value, "", "  "); err != nil {
		pretty.Write(value)
	}
	fmt.Println(pretty.String())
	return nil
}
