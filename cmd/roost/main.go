// Command roost is the one binary of the platform and of its nodes:
// `roost serve` runs the platform, `roost node` a worker node, `roost keys`
// manages API keys on a data dir, `roost rpc` calls any method, `roost
// bundles push` publishes a bundle, `roost nodes` administers the fleet,
// `roost version` prints the version; `roost sandbox-init` is what a node
// runs inside a sandbox (its supervisor).
package main

import (
	"fmt"
	"os"
)

const usage = `roost runs AI agents in sandboxes on behalf of other software.

Usage:
  roost serve [--listen ADDR] [--data DIR] [--templates DIR]   start the platform
  roost keys create --org NAME [--name LABEL] [--admin]         create an API key
  roost keys list                                               list API keys
  roost keys revoke ID                                          revoke an API key
  roost rpc METHOD [JSON|-]                                     call a platform method
  roost bundles push DIR --slug SLUG                            pack, upload and publish a bundle
  roost node --platform URL [--token T] --data DIR [--name N] [--labels a,b]
                                                                run a worker node
  roost nodes list|get ID|token [--labels a,b] [--ttl S]|drain ID|undrain ID|remove ID
                                                                administer nodes (admin key)
  roost version                                                 print the version

Every flag has an environment equivalent: --data is ROOST_DATA, --s3-bucket is
ROOST_S3_BUCKET, and so on. Run 'roost COMMAND -h' for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(args[1:])
	case "keys":
		err = cmdKeys(args[1:])
	case "rpc":
		err = cmdRPC(args[1:])
	case "bundles":
		err = cmdBundles(args[1:])
	case "node":
		err = cmdNode(args[1:])
	case "nodes":
		err = cmdNodes(args[1:])
	case "sandbox-init":
		err = cmdSandboxInit(args[1:])
	case "version", "--version":
		fmt.Println("roost", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "roost: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if e, ok := err.(exitError); ok {
			return int(e)
		}
		fmt.Fprintln(os.Stderr, "roost:", err)
		return 1
	}
	return 0
}

// exitError ends the program with a status after its message was printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }
