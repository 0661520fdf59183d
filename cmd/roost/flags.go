package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// newFlags returns a flag set whose flags take their defaults from ROOST_*
// environment variables (--s3-bucket ← ROOST_S3_BUCKET).
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

func envName(flagName string) string {
	return "ROOST_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse applies the environment, then the command line, and returns the
// positional arguments. Flags may come before or after them
// (`roost bundles push DIR --slug s`); "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitError(0)
			}
			return nil, exitError(2)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// flagTable is a Markdown table of a flag set: each flag, the variable
// that sets it too, its default, and what it does.
func flagTable(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | what it does |\n| --- | --- | --- | --- |\n")
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = "none"
		} else {
			def = "`" + def + "`"
		}
		usage := strings.ReplaceAll(f.Usage, "|", "\\|")
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", f.Name, envName(f.Name), def, usage)
	})
	return b.String()
}
