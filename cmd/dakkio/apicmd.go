package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dakkio/dakkio/client"
)

// The data-plane commands (bucket, key, source, write, query) call the
// public API with an API key through the SDK. Their node and key come from,
// first to last: --url and --api-key, DAKKIO_URL and DAKKIO_API_KEY, the
// profile named by --profile or DAKKIO_PROFILE, the active profile
// (dakkio config), and for the node http://127.0.0.1:8080.

const apiFlagsUsage = `
Every command also takes:
  --url URL        the node to call (env DAKKIO_URL, else the profile's, else http://127.0.0.1:8080)
  --api-key KEY    API key (env DAKKIO_API_KEY, else the profile's)
  --profile NAME   a profile of 'dakkio config' (env DAKKIO_PROFILE, else the active one)
  --json           print the API's answer envelope as JSON: {"data": ...} (lists add "pagination")
`

// defaultURL is the node a command calls when nothing names one.
const defaultURL = "http://127.0.0.1:8080"

// apiTimeout bounds one call of a data-plane command.
const apiTimeout = 30 * time.Second

// apiCmd holds what every data-plane command shares.
type apiCmd struct {
	fs      *flag.FlagSet
	url     string
	apiKey  string
	profile string
	json    bool
	pos     []string
	baseURL string // the node called, once client has resolved it
	long    string // printed by --help before the flags, when set
	// optional is how many positional arguments may follow the required ones.
	optional int

	stdout, stderr io.Writer
}

func newAPICmd(name, synopsis string, stdout, stderr io.Writer) *apiCmd {
	a := &apiCmd{stdout: stdout, stderr: stderr}
	a.fs = flag.NewFlagSet("dakkio "+name, flag.ContinueOnError)
	a.fs.SetOutput(stderr)
	a.fs.StringVar(&a.url, "url", "", "the node to call (env DAKKIO_URL, else the profile's, else "+defaultURL+")")
	a.fs.StringVar(&a.apiKey, "api-key", "", "API key (env DAKKIO_API_KEY, else the profile's)")
	a.fs.StringVar(&a.profile, "profile", "", "profile of 'dakkio config' (env DAKKIO_PROFILE, else the active one)")
	a.fs.BoolVar(&a.json, "json", false, `print the API's answer envelope as JSON ({"data": ...})`)
	a.fs.Usage = func() {
		if a.long != "" {
			fmt.Fprint(a.fs.Output(), a.long, "\nFlags:\n")
		} else {
			fmt.Fprintf(a.fs.Output(), "Usage: %s %s [flags]\n\nFlags:\n", a.fs.Name(), synopsis)
		}
		a.fs.PrintDefaults()
	}
	return a
}

// parse parses args, flags and positional arguments (named posNames) in
// any order, as operatorCmd.parse does.
func (a *apiCmd) parse(args []string, posNames ...string) (code int, ok bool) {
	for {
		if err := a.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0, false
			}
			return 2, false
		}
		args = a.fs.Args()
		if len(args) == 0 {
			break
		}
		a.pos = append(a.pos, args[0])
		args = args[1:]
	}
	want := len(posNames)
	switch {
	case len(a.pos) < want:
		return a.usageError("missing " + posNames[len(a.pos)]), false
	case len(a.pos) > want+a.optional:
		return a.usageError(fmt.Sprintf("unexpected argument %q", a.pos[want+a.optional])), false
	}
	return 0, true
}

func (a *apiCmd) usageError(msg string) int {
	fmt.Fprintf(a.stderr, "%s: %s\n", a.fs.Name(), msg)
	a.fs.Usage()
	return 2
}

// visited reports whether the flag name was given on the command line.
func (a *apiCmd) visited(name string) bool {
	seen := false
	a.fs.Visit(func(f *flag.Flag) { seen = seen || f.Name == name })
	return seen
}

// client resolves the node and the key. No key anywhere is a usage error.
func (a *apiCmd) client() (*client.Client, int, bool) {
	name := firstNonEmpty(a.profile, os.Getenv("DAKKIO_PROFILE"))
	var p profile
	if name != "" || a.url == "" || a.apiKey == "" {
		pf, err := loadProfiles()
		if err != nil {
			fmt.Fprintf(a.stderr, "error: %v\n", err)
			return nil, 1, false
		}
		if name == "" {
			name = pf.Active
		}
		if name != "" {
			var ok bool
			if p, ok = pf.Profiles[name]; !ok {
				fmt.Fprintf(a.stderr, "error: no profile %q ('dakkio config list' shows them)\n", name)
				return nil, 2, false
			}
		}
	}
	a.baseURL = operatorBaseURL(firstNonEmpty(a.url, os.Getenv("DAKKIO_URL"), p.URL, defaultURL))
	key := firstNonEmpty(a.apiKey, os.Getenv("DAKKIO_API_KEY"), p.APIKey)
	if key == "" {
		fmt.Fprintln(a.stderr, "error: no API key: pass --api-key, set DAKKIO_API_KEY, or save one in a profile: dakkio config create NAME --url URL --api-key KEY")
		return nil, 2, false
	}
	return client.New(a.baseURL, client.WithAPIKey(key)), 0, true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// ctx is a context for one command: it ends after apiTimeout.
func (a *apiCmd) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), apiTimeout)
}

// fail reports err on stderr, with a hint when the node cannot be reached
// or refused the key, and returns exit code 1.
func (a *apiCmd) fail(err error) int {
	reportError(a.stderr, err)
	if hint := connectionHint(err, a.baseURL, "--url, DAKKIO_URL or a profile (dakkio config create)"); hint != "" {
		fmt.Fprintln(a.stderr, hint)
	}
	if client.IsStatus(err, http.StatusUnauthorized) {
		fmt.Fprintln(a.stderr, "hint: the node refused the API key; check --api-key, DAKKIO_API_KEY or the profile's (dakkio config list)")
	}
	return 1
}

// reportError prints err, an API error as its type, message and details.
func reportError(w io.Writer, err error) {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		fmt.Fprintf(w, "error: %v\n", err)
		return
	}
	// What the command wrapped around the API's answer (which lines).
	if prefix, ok := strings.CutSuffix(err.Error(), ae.Error()); ok && prefix != "" {
		fmt.Fprint(w, "error: ", prefix)
		w = indentFirst{w}
	}
	typ := ae.Type
	if typ == "" {
		typ = strconv.Itoa(ae.StatusCode) + " " + http.StatusText(ae.StatusCode)
	}
	if ae.Message != "" {
		fmt.Fprintf(w, "error: %s: %s\n", typ, ae.Message)
	} else {
		fmt.Fprintf(w, "error: %s\n", typ)
	}
	for _, d := range ae.Details {
		fmt.Fprintf(w, "  - %s\n", d)
	}
}

// connectionHint explains an error that reached no node: which address was
// called, whether a node runs there, and how to name another (how).
func connectionHint(err error, baseURL, how string) string {
	var (
		op  *net.OpError
		dns *net.DNSError
		ue  *url.Error
	)
	switch {
	case errors.As(err, &dns):
		return fmt.Sprintf("hint: cannot resolve the host of %s; give the node's address with %s", baseURL, how)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Sprintf("hint: no dakkio node answers at %s: is it running ('dakkio serve')? Give another address with %s", baseURL, how)
	case errors.As(err, &ue) && ue.Timeout():
		return fmt.Sprintf("hint: the node at %s did not answer in time: is it overloaded, or is the address (%s) right?", baseURL, how)
	}
	return ""
}

// printJSON prints data in the API's success envelope, {"data": data}.
func printJSON(w io.Writer, data any) int {
	return printEnvelope(w, map[string]any{"data": data})
}

// printEnvelope prints v, already an envelope (a list with its pagination,
// a query with its metadata), as indented JSON.
func printEnvelope(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// table writes aligned columns.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// kv writes "Label:  value" lines.
func kv(w io.Writer, pairs ...string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
	tw.Flush()
}

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339) }

var objectIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// resolveBucket accepts a bucket's id or its name (looked up with the
// admin key's list).
func resolveBucket(ctx context.Context, c *client.Client, ref string) (string, error) {
	if objectIDPattern.MatchString(ref) {
		return ref, nil
	}
	for b, err := range c.AllBuckets(ctx, 1000) {
		if err != nil {
			return "", fmt.Errorf("cannot find bucket %q by name (give its id with a write or read key): %w", ref, err)
		}
		if b.Name == ref {
			return b.ID, nil
		}
	}
	return "", fmt.Errorf("no bucket named %q", ref)
}

// listEnvelope is a whole list as --json prints it.
func listEnvelope[T any](items []T) *client.List[T] {
	if items == nil {
		items = []T{}
	}
	return &client.List[T]{Data: items, Pagination: client.Pagination{Limit: len(items), Total: len(items)}}
}

// listOrAll is the page asked for, or with --all every item gathered from
// the page iterator into one envelope.
func listOrAll[T any](all bool, every iter.Seq2[T, error], page func() (*client.List[T], error)) (*client.List[T], error) {
	if !all {
		return page()
	}
	var items []T
	for item, err := range every {
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return listEnvelope(items), nil
}

// dispatch runs the subcommand of a group; help and unknown ones print usage.
func dispatch(group, usage string, cmds map[string]func([]string, io.Writer, io.Writer) int, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if run, ok := cmds[args[0]]; ok {
		return run(args[1:], stdout, stderr)
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range cmds {
			if !yield(k) {
				return
			}
		}
	})
	fmt.Fprintf(stderr, "dakkio %s: unknown command %q (one of: %s)\n\n%s", group, args[0], strings.Join(names, ", "), usage)
	return 2
}

// indentFirst drops the "error: " that starts the first line written
// through it, which the wrapping prefix already printed.
type indentFirst struct{ w io.Writer }

func (i indentFirst) Write(p []byte) (int, error) {
	if q, ok := bytes.CutPrefix(p, []byte("error: ")); ok {
		n, err := i.w.Write(q)
		return n + len(p) - len(q), err
	}
	return i.w.Write(p)
}
