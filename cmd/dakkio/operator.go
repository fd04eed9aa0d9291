package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dakkio/dakkio/client"
)

const orgUsage = `Usage:
  dakkio org create --name NAME [--plan free|pro|enterprise]
  dakkio org list [--limit N] [--offset N]
  dakkio org update ORG-ID [--name NAME] [--plan free|pro|enterprise]
  dakkio org key ORG-ID [--name NAME]              create another admin key
  dakkio org keys ORG-ID [--limit N] [--offset N]  list its admin keys (never the keys themselves)
  dakkio org revoke-key ORG-ID KEY-ID              revoke an admin key on every node
` + operatorFlagsUsage + `
Run 'dakkio org <command> --help' for the flags of a command.
`

const operatorUsage = `Usage:
  dakkio operator rotate-token   replace the operator token; the new one is printed once
` + operatorFlagsUsage + `
Every node refuses the old token within the key lease. The node that answers
deletes its <data-dir>/operator-token, which held the old one: pass the new
token with --token or DAKKIO_OPERATOR_TOKEN from then on. A node's
DAKKIO_OPERATOR_TOKEN counts only at the cluster's first start.
`

const clusterUsage = `Usage:
  dakkio cluster status
  dakkio cluster remove NODE-ID   take a dead or stopped node out of the Raft configuration
  dakkio cluster rebalance        move existing buckets onto nodes added since they were placed
` + operatorFlagsUsage + `
'cluster remove' is for a node that is dead or stopped for good: a running
node is seen alive on gossip and the leader adds it back.
`

const operatorFlagsUsage = `
Every command also takes:
  --addr URL       any node of the cluster (env DAKKIO_ADDR, default http://127.0.0.1:8080)
  --token TOKEN    operator token (env DAKKIO_OPERATOR_TOKEN, else <data-dir>/operator-token)
  --data-dir DIR   node data directory holding operator-token (env DAKKIO_DATA_DIR, default ./data)
  --json           print the API's data as JSON
`

// operatorTimeout bounds one operator command; each is a single API call.
const operatorTimeout = 30 * time.Second

// orgCommand runs 'dakkio org ...' and returns the exit code: 0 done, 1 the
// call failed, 2 bad usage.
func orgCommand(args []string, stdout, stderr io.Writer) int {
	return dispatchOperator("org", orgUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"create":     orgCreate,
		"list":       orgList,
		"update":     orgUpdate,
		"key":        orgKey,
		"keys":       orgKeys,
		"revoke-key": orgRevokeKey,
	}, args, stdout, stderr)
}

// operatorCommand runs 'dakkio operator ...' with orgCommand's exit codes.
func operatorCommand(args []string, stdout, stderr io.Writer) int {
	return dispatchOperator("operator", operatorUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"rotate-token": operatorRotateToken,
	}, args, stdout, stderr)
}

// clusterCommand runs 'dakkio cluster ...' with orgCommand's exit codes.
func clusterCommand(args []string, stdout, stderr io.Writer) int {
	return dispatchOperator("cluster", clusterUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"status":    clusterStatus,
		"remove":    clusterRemove,
		"rebalance": clusterRebalance,
	}, args, stdout, stderr)
}

func dispatchOperator(group, usage string, cmds map[string]func([]string, io.Writer, io.Writer) int, args []string, stdout, stderr io.Writer) int {
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
	fmt.Fprintf(stderr, "dakkio %s: unknown command %q\n\n%s", group, args[0], usage)
	return 2
}

func orgCreate(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("org create", "--name NAME [--plan PLAN]", stdout, stderr)
	name := o.fs.String("name", "", "organization name (required)")
	plan := o.fs.String("plan", "", "free, pro or enterprise (server default: free)")
	if code, ok := o.parse(args, ""); !ok {
		return code
	}
	if *name == "" {
		return o.usageError("--name is required")
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	res, err := c.CreateOrg(ctx, client.CreateOrgRequest{Name: *name, Plan: *plan})
	if err != nil {
		return o.fail(err)
	}
	if o.json {
		return o.printJSON(res)
	}
	o.printKV("Organization", res.Organization.ID, "Name", res.Organization.Name, "Plan", res.Organization.Plan)
	fmt.Fprintln(stdout)
	o.printNewKey(&res.AdminKey)
	return 0
}

func orgList(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("org list", "[--limit N] [--offset N]", stdout, stderr)
	var page client.Page
	o.fs.IntVar(&page.Limit, "limit", 0, "organizations per page, 1..1000 (server default: 100)")
	o.fs.IntVar(&page.Offset, "offset", 0, "organizations to skip")
	if code, ok := o.parse(args, ""); !ok {
		return code
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	l, err := c.ListOrgs(ctx, page)
	if err != nil {
		return o.fail(err)
	}
	if o.json {
		return printEnvelope(o.stdout, l)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPLAN\tCREATED")
	for _, org := range l.Data {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", org.ID, org.Name, org.Plan, org.CreatedAt.UTC().Format(time.RFC3339))
	}
	tw.Flush()
	if p := l.Pagination; p.HasMore {
		fmt.Fprintf(stderr, "showing %d of %d; next page: --offset %d\n", len(l.Data), p.Total, p.Offset+len(l.Data))
	}
	return 0
}

func orgUpdate(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("org update", "ORG-ID [--name NAME] [--plan PLAN]", stdout, stderr)
	name := o.fs.String("name", "", "new organization name")
	plan := o.fs.String("plan", "", "new plan: free, pro or enterprise")
	code, ok := o.parse(args, "ORG-ID")
	if !ok {
		return code
	}
	// Flags given explicitly are sent even when empty, so the server (not
	// this command) judges their values.
	var req client.UpdateOrgRequest
	o.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			req.Name = name
		case "plan":
			req.Plan = plan
		}
	})
	if req.Name == nil && req.Plan == nil {
		return o.usageError("give --name, --plan or both")
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	org, err := c.UpdateOrg(ctx, o.pos[0], req)
	if err != nil {
		return o.fail(err)
	}
	if o.json {
		return o.printJSON(org)
	}
	o.printKV("Organization", org.ID, "Name", org.Name, "Plan", org.Plan, "Updated", org.UpdatedAt.UTC().Format(time.RFC3339))
	return 0
}

func orgKey(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("org key", "ORG-ID [--name NAME]", stdout, stderr)
	name := o.fs.String("name", "", "name of the new admin key (server default: admin)")
	if code, ok := o.parse(args, "ORG-ID"); !ok {
		return code
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	key, err := c.CreateAdminKey(ctx, o.pos[0], *name)
	if err != nil {
		return o.fail(err)
	}
	if o.json {
		return o.printJSON(key)
	}
	o.printNewKey(key)
	return 0
}

func orgKeys(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("org keys", "ORG-ID [--limit N] [--offset N]", stdout, stderr)
	var page client.Page
	o.fs.IntVar(&page.Limit, "limit", 0, "keys per page, 1..1000 (server default: 100)")
	o.fs.IntVar(&page.Offset, "offset", 0, "keys to skip")
	if code, ok := o.parse(args, "ORG-ID"); !ok {
		return code
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	l, err := c.ListAdminKeys(ctx, o.pos[0], page)
	if err != nil {
		return o.fail(err)
	}
	if o.json {
		return printEnvelope(o.stdout, l)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tCREATED\tLAST USED")
	for _, k := range l.Data {
		used := "never"
		if k.LastUsedAt != nil {
			used = k.LastUsedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.KeyPrefix, k.CreatedAt.UTC().Format(time.RFC3339), used)
	}
	tw.Flush()
	if p := l.Pagination; p.HasMore {
		fmt.Fprintf(stderr, "showing %d of %d; next page: --offset %d\n", len(l.Data), p.Total, p.Offset+len(l.Data))
	}
	return 0
}

func orgRevokeKey(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("org revoke-key", "ORG-ID KEY-ID", stdout, stderr)
	if code, ok := o.parse(args, "ORG-ID", "KEY-ID"); !ok {
		return code
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	k, err := c.RevokeAdminKey(ctx, o.pos[0], o.pos[1])
	if err != nil {
		return o.fail(err)
	}
	if o.json {
		return o.printJSON(k)
	}
	fmt.Fprintf(stdout, "revoked admin key %s (%s); every node refuses it within the key lease\n", k.ID, k.Name)
	return 0
}

// rotatedToken is what 'operator rotate-token --json' prints.
type rotatedToken struct {
	Token string `json:"token"`
}

func operatorRotateToken(args []string, stdout, stderr io.Writer) int {
	o, res, code, ok := callOperator("operator rotate-token", args, stdout, stderr, func(c *client.Client, ctx context.Context) (*rotatedToken, error) {
		tok, err := c.RotateOperatorToken(ctx)
		return &rotatedToken{tok}, err
	})
	if !ok {
		return code
	}
	o.printKV("Operator token", res.Token)
	fmt.Fprintln(stdout, "\nThe operator token is shown only once: store it now. The old one is refused from now on;\n"+
		"pass this one with --token or DAKKIO_OPERATOR_TOKEN.")
	return 0
}

// callOperator runs an operator command that takes no argument: one call,
// its answer printed as JSON with --json. It returns the answer and true
// when the caller is to print it, else the exit code.
func callOperator[T any](name string, args []string, stdout, stderr io.Writer, do func(*client.Client, context.Context) (*T, error)) (*operatorCmd, *T, int, bool) {
	o := newOperatorCmd(name, "", stdout, stderr)
	if code, ok := o.parse(args, ""); !ok {
		return o, nil, code, false
	}
	c, code, ok := o.client()
	if !ok {
		return o, nil, code, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	v, err := do(c, ctx)
	if err != nil {
		return o, nil, o.fail(err), false
	}
	if o.json {
		return o, nil, o.printJSON(v), false
	}
	return o, v, 0, true
}

func clusterStatus(args []string, stdout, stderr io.Writer) int {
	o, st, code, ok := callOperator("cluster status", args, stdout, stderr, (*client.Client).ClusterStatus)
	if !ok {
		return code
	}
	leader := st.LeaderID
	switch {
	case leader == "":
		leader = "none known"
	case st.Raft.LeaderAddress != "":
		leader += " (" + st.Raft.LeaderAddress + ")"
	}
	o.printKV("Answered by", st.NodeID, "Leader", leader)
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tHTTP\tRAFT\tSTATE\tVOTER\tHEALTHY")
	for _, n := range st.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.NodeID, dashIfEmpty(n.HTTPAddress), dashIfEmpty(n.RaftAddress),
			dashIfEmpty(n.State), yesNo(n.Voter), yesNo(n.Healthy))
	}
	tw.Flush()
	fmt.Fprintln(stdout)
	r := st.Raft
	o.printKV("Raft state", r.State, "Term", strconv.FormatUint(r.Term, 10),
		"Last index", strconv.FormatUint(r.LastIndex, 10),
		"Commit index", strconv.FormatUint(r.CommitIndex, 10),
		"Applied index", strconv.FormatUint(r.AppliedIndex, 10))
	if len(st.Placement) > 0 {
		fmt.Fprintln(stdout)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "BUCKET\tREPLICAS")
		ids := slices.Sorted(maps.Keys(st.Placement))
		for _, b := range ids {
			fmt.Fprintf(tw, "%s\t%s\n", b, strings.Join(st.Placement[b], ", "))
		}
		tw.Flush()
	}
	return 0
}

// maxLeaderHops bounds how often 'cluster remove' follows a node's answer
// naming the leader: a follower names the leader, and a leader asked to
// remove itself hands leadership over and names the new one.
const maxLeaderHops = 2

func clusterRemove(args []string, stdout, stderr io.Writer) int {
	o := newOperatorCmd("cluster remove", "NODE-ID", stdout, stderr)
	if code, ok := o.parse(args, "NODE-ID"); !ok {
		return code
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	id := o.pos[0]
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	err := c.RemoveNode(ctx, id)
	for hop := 0; hop < maxLeaderHops && err != nil; hop++ {
		leader := leaderToRetry(err, c.BaseURL())
		if leader == "" {
			break
		}
		fmt.Fprintf(stderr, "%s cannot remove nodes now; sending the request to the leader at %s\n", c.BaseURL(), leader)
		c = o.clientAt(leader)
		err = c.RemoveNode(ctx, id)
	}
	if err != nil {
		return o.fail(err)
	}
	if o.json {
		return o.printJSON(map[string]string{"removedNode": id})
	}
	fmt.Fprintf(stdout, "removed %s\n", id)
	return 0
}

// leaderToRetry returns the leader's base URL named by a 503 answer, or ""
// when err is something else or names the node that answered.
func leaderToRetry(err error, from string) string {
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable {
		return ""
	}
	leader := strings.TrimRight(ae.Leader(), "/")
	if !strings.HasPrefix(leader, "http://") && !strings.HasPrefix(leader, "https://") {
		return ""
	}
	if leader == from {
		return ""
	}
	return leader
}

// operatorCmd holds what every operator subcommand shares: its flag set, the
// flags that locate and authenticate against a node, and the output streams.
type operatorCmd struct {
	fs      *flag.FlagSet
	addr    string
	token   string
	dataDir string
	json    bool
	pos     []string // positional arguments, once parsed
	secret  string   // the operator token in use, once client has found it

	stdout, stderr io.Writer
}

// newOperatorCmd starts the subcommand name ("org create"); synopsis shows
// its own arguments in the usage text.
func newOperatorCmd(name, synopsis string, stdout, stderr io.Writer) *operatorCmd {
	o := &operatorCmd{stdout: stdout, stderr: stderr}
	o.fs = flag.NewFlagSet("dakkio "+name, flag.ContinueOnError)
	o.fs.SetOutput(stderr)
	envFlag(o.fs, &o.addr, "addr", "http://127.0.0.1:8080", "any node of the cluster, URL or host:port")
	// Not envFlag: the default would print the secret in --help.
	o.fs.StringVar(&o.token, "token", "", "operator token (env DAKKIO_OPERATOR_TOKEN, else read from <data-dir>/operator-token)")
	envFlag(o.fs, &o.dataDir, "data-dir", "./data", "node data directory holding operator-token")
	o.fs.BoolVar(&o.json, "json", false, "print the API's data as JSON")
	o.fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s [flags]\n\nFlags:\n", o.fs.Name(), synopsis)
		o.fs.PrintDefaults()
	}
	return o
}

// parse parses args, which may mix flags with the positional arguments
// named posNames (none when empty) in any order. When it returns ok false the
// command must exit with code: 0 after --help, 2 after a usage error (already
// reported).
func (o *operatorCmd) parse(args []string, posNames ...string) (code int, ok bool) {
	for {
		if err := o.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0, false
			}
			return 2, false // the flag package has printed the error and usage
		}
		args = o.fs.Args()
		if len(args) == 0 {
			break
		}
		o.pos = append(o.pos, args[0])
		args = args[1:]
	}
	posNames = slices.DeleteFunc(posNames, func(n string) bool { return n == "" })
	want := len(posNames)
	switch {
	case len(o.pos) < want:
		return o.usageError("missing " + posNames[len(o.pos)]), false
	case len(o.pos) > want:
		return o.usageError(fmt.Sprintf("unexpected argument %q", o.pos[want])), false
	}
	return 0, true
}

func (o *operatorCmd) usageError(msg string) int {
	fmt.Fprintf(o.stderr, "%s: %s\n", o.fs.Name(), msg)
	o.fs.Usage()
	return 2
}

// client builds an API client from --addr and the operator token, which
// comes from --token, else DAKKIO_OPERATOR_TOKEN, else
// <data-dir>/operator-token. No token anywhere is a usage error (2).
func (o *operatorCmd) client() (c *client.Client, code int, ok bool) {
	token := o.token
	if token == "" {
		token = os.Getenv("DAKKIO_OPERATOR_TOKEN")
	}
	if token == "" {
		path := filepath.Join(o.dataDir, "operator-token")
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(o.stderr, "error: no operator token: pass --token, set DAKKIO_OPERATOR_TOKEN, or point --data-dir at the node's data directory (%s does not exist)\n", path)
			return nil, 2, false
		case err != nil:
			fmt.Fprintf(o.stderr, "error: cannot read operator token: %v\n", err)
			return nil, 1, false
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			fmt.Fprintf(o.stderr, "error: operator token file %s is empty\n", path)
			return nil, 2, false
		}
	}
	o.secret = token
	return o.clientAt(operatorBaseURL(o.addr)), 0, true
}

// clientAt is a client for the node at baseURL with the token client found.
func (o *operatorCmd) clientAt(baseURL string) *client.Client {
	return client.New(baseURL, client.WithOperatorToken(o.secret))
}

// operatorBaseURL accepts a URL or a bare host:port (":8080" meaning this host).
func operatorBaseURL(addr string) string {
	addr = strings.TrimSpace(addr)
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimRight(addr, "/")
}

// fail reports err on stderr and returns exit code 1.
func (o *operatorCmd) fail(err error) int {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		fmt.Fprintf(o.stderr, "error: %v\n", err)
		if hint := connectionHint(err, operatorBaseURL(o.addr), "--addr or DAKKIO_ADDR"); hint != "" {
			fmt.Fprintln(o.stderr, hint)
		}
		return 1
	}
	typ := ae.Type
	if typ == "" {
		typ = strconv.Itoa(ae.StatusCode) + " " + http.StatusText(ae.StatusCode)
	}
	if ae.Message != "" {
		fmt.Fprintf(o.stderr, "error: %s: %s\n", typ, ae.Message)
	} else {
		fmt.Fprintf(o.stderr, "error: %s\n", typ)
	}
	for _, d := range ae.Details {
		fmt.Fprintf(o.stderr, "  - %s\n", d)
	}
	if ae.StatusCode == http.StatusUnauthorized {
		fmt.Fprintln(o.stderr, "hint: the node refused the operator token; check --token, DAKKIO_OPERATOR_TOKEN or <data-dir>/operator-token")
	}
	return 1
}

// printJSON prints v in the API's success envelope, {"data": v} (lists
// go through printEnvelope: they are envelopes already).
func (o *operatorCmd) printJSON(v any) int {
	v = map[string]any{"data": v}
	enc := json.NewEncoder(o.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return o.fail(err)
	}
	return 0
}

// printKV prints label/value pairs as aligned "Label:  value" lines.
func (o *operatorCmd) printKV(kv ...string) {
	tw := tabwriter.NewWriter(o.stdout, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
	}
	tw.Flush()
}

func (o *operatorCmd) printNewKey(k *client.CreatedKey) {
	o.printKV("Admin key", k.Key, "Key ID", k.ID, "Key name", k.Name, "Key prefix", k.KeyPrefix)
	fmt.Fprintln(o.stdout, "\nThe admin key is shown only once: store it now. It cannot be retrieved later.")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clusterRebalance(args []string, stdout, stderr io.Writer) int {
	_, res, code, ok := callOperator("cluster rebalance", args, stdout, stderr, (*client.Client).Rebalance)
	if !ok {
		return code
	}
	if len(res.Moves) == 0 {
		fmt.Fprintln(stdout, "every bucket is on the replicas it should be on")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUCKET\tREPLICAS\tCOPYING TO\tLEAVING")
	for _, m := range res.Moves {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Bucket, strings.Join(m.Replicas, ", "), dashIfEmpty(strings.Join(m.Pending, ", ")), dashIfEmpty(strings.Join(m.Leaving, ", ")))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d buckets moving; 'dakkio cluster status' shows them until they have caught up\n", len(res.Moves))
	return 0
}
