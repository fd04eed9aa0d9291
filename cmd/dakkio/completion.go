package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// commandTree is what shell completion offers: each command, its
// subcommands and its flags. TestCompletionKnowsEveryCommand holds it to
// the commands run dispatches.
var commandTree = []completionEntry{
	{name: "serve"}, // flags: serveFlags' own, filled in by completionTree
	{name: "org", subs: []string{"create", "list", "update", "key", "keys", "revoke-key"}, flags: operatorFlags("--name", "--plan", "--limit", "--offset")},
	{name: "cluster", subs: []string{"status", "remove", "rebalance"}, flags: operatorFlags()},
	{name: "operator", subs: []string{"rotate-token"}, flags: operatorFlags()},
	{name: "backup", flags: operatorFlags("--out", "--allow-partial", "--progress")},
	{name: "restore", flags: operatorFlags("--in", "--parallel", "--progress")},
	{name: "bucket", subs: []string{"list", "create", "get", "update", "delete"}, flags: apiFlags("--name", "--description", "--retention-days", "--status", "--limit", "--offset", "--all")},
	{name: "key", subs: []string{"list", "create", "delete"}, flags: apiFlags("--bucket", "--name", "--type", "--limit", "--offset", "--all")},
	{name: "source", subs: []string{"list", "create", "get", "update", "delete"}, flags: apiFlags("--bucket", "--name", "--type", "--description", "--field", "--no-downsampling", "--downsampling", "--status", "--limit", "--offset", "--all")},
	{name: "webhook", subs: []string{"list", "create", "get", "update", "delete", "deliveries", "test"}, flags: apiFlags("--bucket", "--endpoint", "--event", "--name", "--secret", "--status", "--limit", "--offset", "--all")},
	{name: "write", flags: apiFlags("--bucket", "--format", "--source", "--batch", "--precision", "--consistency", "--progress")},
	{name: "query", flags: apiFlags("--bucket", "--source", "--start", "--end", "--field", "--agg", "--group-by", "--sort", "--limit", "--offset", "--all", "--format")},
	{name: "config", subs: []string{"create", "use", "list", "rm"}, flags: []string{"--url", "--api-key", "--active", "--json"}},
	{name: "completion", subs: []string{"bash", "zsh"}},
	{name: "version", flags: []string{"--json"}},
	{name: "help"},
}

type completionEntry struct {
	name  string
	subs  []string
	flags []string
}

func operatorFlags(more ...string) []string {
	return append([]string{"--addr", "--token", "--data-dir", "--json"}, more...)
}

func apiFlags(more ...string) []string {
	return append([]string{"--url", "--api-key", "--profile", "--json"}, more...)
}

// completionTree is commandTree with serve's flags read from its flag set.
func completionTree() []completionEntry {
	tree := slices.Clone(commandTree)
	fs, _ := serveFlags(io.Discard)
	for i := range tree {
		if tree[i].name == "serve" {
			fs.VisitAll(func(f *flag.Flag) { tree[i].flags = append(tree[i].flags, "--"+f.Name) })
		}
	}
	return tree
}

func commandNames() []string {
	var names []string
	for _, e := range commandTree {
		names = append(names, e.name)
	}
	return names
}

const completionUsage = `Usage:
  dakkio completion bash   print the bash completion script
  dakkio completion zsh    print the zsh completion script

Load it in the running shell:
  source <(dakkio completion bash)     # bash
  source <(dakkio completion zsh)      # zsh, after compinit
or save it where the shell looks for completions, for example
  dakkio completion bash > /etc/bash_completion.d/dakkio
  dakkio completion zsh > "${fpath[1]}/_dakkio"
`

func completionCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, completionUsage)
		return 2
	}
	switch args[0] {
	case "bash":
		fmt.Fprint(stdout, bashCompletion())
	case "zsh":
		fmt.Fprint(stdout, zshCompletion())
	case "-h", "--help", "help":
		fmt.Fprint(stdout, completionUsage)
	default:
		fmt.Fprintf(stderr, "dakkio completion: unknown shell %q (bash or zsh)\n\n%s", args[0], completionUsage)
		return 2
	}
	return 0
}

func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# bash completion for dakkio; load with: source <(dakkio completion bash)
_dakkio() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "` + strings.Join(append(commandNames(), "--version", "--help"), " ") + `" -- "$cur"))
    return 0
  fi
  local subs="" flags=""
  case "${COMP_WORDS[1]}" in
`)
	for _, e := range completionTree() {
		fmt.Fprintf(&b, "    %s) subs=%q; flags=%q ;;\n", e.name, strings.Join(e.subs, " "), strings.Join(e.flags, " "))
	}
	b.WriteString(`  esac
  if [ "${COMP_WORDS[1]}" = help ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=($(compgen -W "` + strings.Join(commandNames(), " ") + `" -- "$cur"))
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ] && [[ $cur != -* ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags --help" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -F _dakkio dakkio
`)
	return b.String()
}

func zshCompletion() string {
	var b strings.Builder
	b.WriteString(`#compdef dakkio
# zsh completion for dakkio; load with: source <(dakkio completion zsh)
_dakkio() {
  local -a subs flags
  if (( CURRENT == 2 )); then
    compadd -- ` + strings.Join(append(commandNames(), "--version", "--help"), " ") + `
    return
  fi
  case $words[2] in
`)
	for _, e := range completionTree() {
		fmt.Fprintf(&b, "    %s) subs=(%s); flags=(%s) ;;\n", e.name, strings.Join(e.subs, " "), strings.Join(e.flags, " "))
	}
	b.WriteString(`  esac
  if [[ $words[2] == help ]] && (( CURRENT == 3 )); then
    compadd -- ` + strings.Join(commandNames(), " ") + `
  elif (( CURRENT == 3 )) && (( ${#subs} > 0 )) && [[ $PREFIX != -* ]]; then
    compadd -- $subs
  elif [[ $PREFIX == -* ]]; then
    compadd -- $flags --help
  else
    _files
  fi
}
if (( $+functions[compdef] )); then
  compdef _dakkio dakkio
fi
`)
	return b.String()
}

// helpFor prints the help of one command to stdout.
func helpFor(name string, stdout, stderr io.Writer) int {
	if !slices.Contains(commandNames(), name) {
		fmt.Fprintf(stderr, "dakkio help: unknown command %q\n\n%s", name, usage)
		return 2
	}
	if name == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	// Each command prints its help on --help; here it goes to stdout.
	run([]string{name, "--help"}, stdout, stdout)
	return 0
}
