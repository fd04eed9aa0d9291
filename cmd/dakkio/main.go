package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `dakkio: a clustered time-series data platform

Usage:
  dakkio serve [flags]      run a node (no flags: single node on :8080, data in ./data)
  dakkio org <command>      manage organizations (create, list, update, key, keys, revoke-key)
  dakkio cluster <command>  inspect and manage the cluster (status, remove, rebalance)
  dakkio operator <command> manage the operator token (rotate-token)
  dakkio backup --out FILE  save the cluster's metadata and points to FILE
  dakkio restore --in FILE  restore a backup into a fresh cluster
  dakkio help               show this text

Run 'dakkio <command> --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serveCommand(args[1:], stdout, stderr)
	case "org":
		return orgCommand(args[1:], stdout, stderr)
	case "cluster":
		return clusterCommand(args[1:], stdout, stderr)
	case "operator":
		return operatorCommand(args[1:], stdout, stderr)
	case "backup":
		return backupCommand(args[1:], stdout, stderr)
	case "restore":
		return restoreCommand(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "dakkio: unknown command %q\n\n%s", args[0], usage)
	return 2
}
