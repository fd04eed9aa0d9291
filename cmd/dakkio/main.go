package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `dakkio: a clustered time-series data platform

Usage:
  dakkio serve [flags]      run a node (no flags: single node on :8080, data in ./data)

Data (with an API key):
  dakkio bucket <command>   buckets (list, create, get, update, delete)
  dakkio key <command>      a bucket's write and read keys (list, create, delete)
  dakkio source <command>   a bucket's data sources (list, create, get, update, delete)
  dakkio webhook <command>  subscriptions to a bucket's events (list, create, get, update, delete, deliveries, test)
  dakkio write              write points from JSON lines or line protocol
  dakkio query              read points, raw or aggregated, as a table, CSV or JSON
  dakkio config <command>   profiles of node URL and API key (create, use, list, rm)

Operator (with the operator token):
  dakkio org <command>      manage organizations (create, list, update, key, keys, revoke-key)
  dakkio cluster <command>  inspect and manage the cluster (status, remove, rebalance)
  dakkio operator <command> manage the operator token (rotate-token)
  dakkio backup --out FILE  save the cluster's metadata and points to FILE
  dakkio restore --in FILE  restore a backup into a fresh cluster

Other:
  dakkio completion bash|zsh  print a shell completion script
  dakkio version            print the version, commit and Go version (also --version)
  dakkio help [command]     show this text, or a command's help

Run 'dakkio help <command>' or 'dakkio <command> --help' for a command's flags.
With --json every command prints the API's envelope: {"data": ...}, lists
with "pagination", queries with "metadata".
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// commands maps each command to the function running it with its
// arguments; it returns the exit code (0 done, 1 failed, 2 bad usage).
var commands map[string]func(args []string, stdout, stderr io.Writer) int

func init() {
	commands = map[string]func([]string, io.Writer, io.Writer) int{
		"serve":      serveCommand,
		"org":        orgCommand,
		"cluster":    clusterCommand,
		"operator":   operatorCommand,
		"backup":     backupCommand,
		"restore":    restoreCommand,
		"bucket":     bucketCommand,
		"key":        keyCommand,
		"source":     sourceCommand,
		"webhook":    webhookCommand,
		"write":      writeCommand,
		"query":      queryCommand,
		"config":     configCommand,
		"completion": completionCommand,
		"version":    versionCommand,
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if cmd, ok := commands[args[0]]; ok {
		return cmd(args[1:], stdout, stderr)
	}
	switch args[0] {
	case "--version", "-version":
		return versionCommand(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 {
			return helpFor(args[1], stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "dakkio: unknown command %q\n\n%s", args[0], usage)
	return 2
}
