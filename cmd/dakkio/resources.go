package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dakkio/dakkio/client"
)

const bucketUsage = `Usage:
  dakkio bucket list [--limit N] [--offset N] [--all]
  dakkio bucket create NAME [--description TEXT] [--retention-days N]
  dakkio bucket get BUCKET                 a bucket with its counts
  dakkio bucket update BUCKET [--name NAME] [--description TEXT] [--retention-days N] [--status active|archived]
  dakkio bucket delete BUCKET              the bucket and everything in it

BUCKET is an id or a name. Bucket commands need an admin key.
` + apiFlagsUsage

const keyUsage = `Usage:
  dakkio key list --bucket BUCKET [--all]
  dakkio key create --bucket BUCKET --name NAME --type write|read   the key is shown once
  dakkio key delete --bucket BUCKET KEY-ID

Key commands need an admin key.
` + apiFlagsUsage

const sourceUsage = `Usage:
  dakkio source list --bucket BUCKET [--all]
  dakkio source create --bucket BUCKET --name NAME --field NAME:TYPE[:UNIT] ... [--type sensor] [--description TEXT] [--no-downsampling]
  dakkio source get --bucket BUCKET SOURCE-ID          the source with its point count and time span
  dakkio source update --bucket BUCKET SOURCE-ID [--name NAME] [--description TEXT] [--type TYPE]
                       [--status active|inactive] [--downsampling=true|false] [--field NAME:TYPE[:UNIT] ...]
  dakkio source delete --bucket BUCKET SOURCE-ID       the source, its points and its alert rules

TYPE is number, string or boolean. Listing and getting take any key of the
bucket; creating and updating an admin key or the bucket's write key;
deleting an admin key. --field on update adds fields or changes their unit.
` + apiFlagsUsage

func bucketCommand(args []string, stdout, stderr io.Writer) int {
	return dispatch("bucket", bucketUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"list": bucketList, "create": bucketCreate, "get": bucketGet, "update": bucketUpdate, "delete": bucketDelete,
	}, args, stdout, stderr)
}

func keyCommand(args []string, stdout, stderr io.Writer) int {
	return dispatch("key", keyUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"list": keyList, "create": keyCreate, "delete": keyDelete,
	}, args, stdout, stderr)
}

func sourceCommand(args []string, stdout, stderr io.Writer) int {
	return dispatch("source", sourceUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"list": sourceList, "create": sourceCreate, "get": sourceGet, "update": sourceUpdate, "delete": sourceDelete,
	}, args, stdout, stderr)
}

func bucketRows(bs []client.Bucket) [][]string {
	rows := make([][]string, 0, len(bs))
	for _, b := range bs {
		rows = append(rows, []string{b.ID, b.Name, strconv.Itoa(b.RetentionDays), b.Status, timeText(b.CreatedAt)})
	}
	return rows
}

var bucketHeader = []string{"ID", "NAME", "RETENTION DAYS", "STATUS", "CREATED"}

// pageFlags adds --limit, --offset and --all to a list command.
func pageFlags(a *apiCmd) (*client.Page, *bool) {
	var p client.Page
	a.fs.IntVar(&p.Limit, "limit", 0, "items per page, 1..1000 (server default: 100)")
	a.fs.IntVar(&p.Offset, "offset", 0, "items to skip")
	all := a.fs.Bool("all", false, "every item, page after page")
	return &p, all
}

// morePages tells on stderr how to get the next page.
func morePages(w io.Writer, p client.Pagination, shown int) {
	if p.HasMore {
		fmt.Fprintf(w, "showing %d of %d; next page: --offset %d (or --all)\n", shown, p.Total, p.Offset+shown)
	}
}

func bucketList(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("bucket list", "[--limit N] [--offset N] [--all]", stdout, stderr)
	page, all := pageFlags(a)
	if code, ok := a.parse(args); !ok {
		return code
	}
	c, code, ok := a.client()
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	l, err := listOrAll(*all, c.AllBuckets(ctx, 1000), func() (*client.List[client.Bucket], error) { return c.ListBuckets(ctx, *page) })
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printEnvelope(stdout, l)
	}
	table(stdout, bucketHeader, bucketRows(l.Data))
	morePages(stderr, l.Pagination, len(l.Data))
	return 0
}

func bucketCreate(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("bucket create", "NAME [--description TEXT] [--retention-days N]", stdout, stderr)
	desc := a.fs.String("description", "", "what the bucket holds")
	days := a.fs.Int("retention-days", 0, "days points are kept (server default: 30, capped by the plan)")
	if code, ok := a.parse(args, "NAME"); !ok {
		return code
	}
	req := client.CreateBucketRequest{Name: a.pos[0]}
	if a.visited("description") {
		req.Description = desc
	}
	if a.visited("retention-days") {
		req.RetentionDays = days
	}
	c, code, ok := a.client()
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	b, err := c.CreateBucket(ctx, req)
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, b)
	}
	printBucket(stdout, b)
	return 0
}

func printBucket(w io.Writer, b *client.Bucket, more ...string) {
	kv(w, append([]string{"Bucket", b.ID, "Name", b.Name, "Description", dashIfEmpty(b.Description), "Retention days", strconv.Itoa(b.RetentionDays),
		"Status", b.Status, "Created", timeText(b.CreatedAt), "Updated", timeText(b.UpdatedAt)}, more...)...)
}

// bucketArg runs a command on one bucket named by its positional argument.
func bucketArg(a *apiCmd, args []string) (c *client.Client, id string, code int, ok bool) {
	if code, ok := a.parse(args, "BUCKET"); !ok {
		return nil, "", code, false
	}
	c, code, ok = a.client()
	if !ok {
		return nil, "", code, false
	}
	ctx, cancel := a.ctx()
	defer cancel()
	id, err := resolveBucket(ctx, c, a.pos[0])
	if err != nil {
		return nil, "", a.fail(err), false
	}
	return c, id, 0, true
}

func bucketGet(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("bucket get", "BUCKET", stdout, stderr)
	c, id, code, ok := bucketArg(a, args)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	b, err := c.GetBucket(ctx, id)
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, b)
	}
	printBucket(stdout, &b.Bucket, "Data sources", strconv.Itoa(b.Stats.DataSourceCount),
		"Data points", strconv.FormatInt(b.Stats.DataPointCount, 10), "API keys", strconv.Itoa(b.Stats.APIKeyCount))
	return 0
}

func bucketUpdate(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("bucket update", "BUCKET [--name NAME] [--description TEXT] [--retention-days N] [--status active|archived]", stdout, stderr)
	name := a.fs.String("name", "", "new name")
	desc := a.fs.String("description", "", "new description")
	days := a.fs.Int("retention-days", 0, "new retention in days")
	status := a.fs.String("status", "", "active or archived")
	c, id, code, ok := bucketArg(a, args)
	if !ok {
		return code
	}
	// Flags given are sent even when empty: the server judges them.
	var req client.UpdateBucketRequest
	if a.visited("name") {
		req.Name = name
	}
	if a.visited("description") {
		req.Description = desc
	}
	if a.visited("retention-days") {
		req.RetentionDays = days
	}
	if a.visited("status") {
		req.Status = status
	}
	if req == (client.UpdateBucketRequest{}) {
		return a.usageError("give at least one of --name, --description, --retention-days, --status")
	}
	ctx, cancel := a.ctx()
	defer cancel()
	b, err := c.UpdateBucket(ctx, id, req)
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, b)
	}
	printBucket(stdout, b)
	return 0
}

func bucketDelete(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("bucket delete", "BUCKET", stdout, stderr)
	c, id, code, ok := bucketArg(a, args)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	res, err := c.DeleteBucket(ctx, id)
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, res)
	}
	d := res.DeletedResources
	fmt.Fprintf(stdout, "deleted bucket %s (%s): %d data sources, %d points, %d API keys, %d alert rules\n",
		res.DeletedBucket.Name, res.DeletedBucket.ID, d.DataSources, d.DataPoints, d.APIKeys, d.AlertRules)
	return 0
}

// bucketFlag adds the --bucket flag of the key and source commands.
func bucketFlag(a *apiCmd) *string {
	return a.fs.String("bucket", "", "the bucket, by id or name (required)")
}

// withBucket parses, builds the client and resolves --bucket.
func withBucket(a *apiCmd, args []string, bucket *string, posNames ...string) (c *client.Client, id string, code int, ok bool) {
	if code, ok := a.parse(args, posNames...); !ok {
		return nil, "", code, false
	}
	if *bucket == "" {
		return nil, "", a.usageError("--bucket is required"), false
	}
	c, code, ok = a.client()
	if !ok {
		return nil, "", code, false
	}
	ctx, cancel := a.ctx()
	defer cancel()
	id, err := resolveBucket(ctx, c, *bucket)
	if err != nil {
		return nil, "", a.fail(err), false
	}
	return c, id, 0, true
}

func keyList(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("key list", "--bucket BUCKET [--all]", stdout, stderr)
	bucket := bucketFlag(a)
	page, all := pageFlags(a)
	c, id, code, ok := withBucket(a, args, bucket)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	l, err := listOrAll(*all, c.AllKeys(ctx, id, 1000), func() (*client.List[client.APIKey], error) { return c.ListKeys(ctx, id, *page) })
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printEnvelope(stdout, l)
	}
	var rows [][]string
	for _, k := range l.Data {
		used := "never"
		if k.LastUsedAt != nil {
			used = timeText(*k.LastUsedAt)
		}
		rows = append(rows, []string{k.ID, k.Name, string(k.Type), k.KeyPrefix, timeText(k.CreatedAt), used})
	}
	table(stdout, []string{"ID", "NAME", "TYPE", "PREFIX", "CREATED", "LAST USED"}, rows)
	morePages(stderr, l.Pagination, len(l.Data))
	return 0
}

func keyCreate(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("key create", "--bucket BUCKET --name NAME --type write|read", stdout, stderr)
	bucket := bucketFlag(a)
	name := a.fs.String("name", "", "the key's name (required)")
	typ := a.fs.String("type", "", "write or read (required)")
	if code, ok := a.parse(args); !ok {
		return code
	}
	if *name == "" || *typ == "" {
		return a.usageError("--name and --type are required")
	}
	c, id, code, ok := withBucket(a, nil, bucket)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	k, err := c.CreateKey(ctx, id, client.CreateKeyRequest{Name: *name, Type: client.KeyType(*typ)})
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, k)
	}
	kv(stdout, "Key", k.Key, "Key ID", k.ID, "Name", k.Name, "Type", string(k.Type), "Bucket", k.BucketID, "Prefix", k.KeyPrefix)
	fmt.Fprintln(stdout, "\nThe key is shown only once: store it now. It cannot be retrieved later.")
	return 0
}

func keyDelete(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("key delete", "--bucket BUCKET KEY-ID", stdout, stderr)
	bucket := bucketFlag(a)
	c, id, code, ok := withBucket(a, args, bucket, "KEY-ID")
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	k, err := c.DeleteKey(ctx, id, a.pos[0])
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, map[string]any{"deletedKey": k})
	}
	fmt.Fprintf(stdout, "revoked %s key %s (%s)\n", k.Type, k.Name, k.ID)
	return 0
}

func sourceRows(ss []client.DataSource) [][]string {
	rows := make([][]string, 0, len(ss))
	for _, s := range ss {
		var fields []string
		for _, f := range slices.Sorted(maps.Keys(s.Schema)) {
			fields = append(fields, f+":"+string(s.Schema[f].Type))
		}
		rows = append(rows, []string{s.ID, s.Name, string(s.Type), s.Status, strings.Join(fields, ",")})
	}
	return rows
}

func sourceList(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("source list", "--bucket BUCKET [--all]", stdout, stderr)
	bucket := bucketFlag(a)
	page, all := pageFlags(a)
	c, id, code, ok := withBucket(a, args, bucket)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	l, err := listOrAll(*all, c.AllSources(ctx, id, 1000), func() (*client.List[client.DataSource], error) { return c.ListSources(ctx, id, *page) })
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printEnvelope(stdout, l)
	}
	table(stdout, []string{"ID", "NAME", "TYPE", "STATUS", "FIELDS"}, sourceRows(l.Data))
	morePages(stderr, l.Pagination, len(l.Data))
	return 0
}

// fieldsFlag collects --field NAME:TYPE[:UNIT] into a schema.
type fieldsFlag map[string]client.Field

func (f fieldsFlag) String() string { return "" }

func (f fieldsFlag) Set(v string) error {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("want NAME:TYPE[:UNIT], such as temperature:number:C")
	}
	fd := client.Field{Type: client.FieldType(parts[1])}
	if len(parts) == 3 {
		fd.Unit = parts[2]
	}
	f[parts[0]] = fd
	return nil
}

func sourceCreate(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("source create", "--bucket BUCKET --name NAME --field NAME:TYPE[:UNIT] ...", stdout, stderr)
	bucket := bucketFlag(a)
	name := a.fs.String("name", "", "the source's name (required)")
	typ := a.fs.String("type", "", "sensor, api, webhook, manual, application or service (server default: sensor)")
	desc := a.fs.String("description", "", "what the source is")
	noDown := a.fs.Bool("no-downsampling", false, "answer unbounded raw queries with raw points, not averages")
	fields := fieldsFlag{}
	a.fs.Var(fields, "field", "a value of the schema, NAME:TYPE[:UNIT] with TYPE number, string or boolean (repeat; at least one)")
	if code, ok := a.parse(args); !ok {
		return code
	}
	if *name == "" || len(fields) == 0 {
		return a.usageError("--name and at least one --field are required")
	}
	c, id, code, ok := withBucket(a, nil, bucket)
	if !ok {
		return code
	}
	req := client.CreateSourceRequest{Name: *name, Type: client.SourceType(*typ), Schema: fields}
	if a.visited("description") {
		req.Description = desc
	}
	if *noDown {
		req.Downsampling = client.Ptr(false)
	}
	ctx, cancel := a.ctx()
	defer cancel()
	s, err := c.CreateSource(ctx, id, req)
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, s)
	}
	printSource(stdout, s)
	return 0
}

func printSource(w io.Writer, s *client.DataSource) {
	kv(w, "Data source", s.ID, "Bucket", s.BucketID, "Name", s.Name, "Type", string(s.Type), "Description", dashIfEmpty(s.Description),
		"Downsampling", yesNo(s.Downsampling), "Status", s.Status, "Created", timeText(s.CreatedAt))
	var rows [][]string
	for _, f := range slices.Sorted(maps.Keys(s.Schema)) {
		fd := s.Schema[f]
		rows = append(rows, []string{f, string(fd.Type), dashIfEmpty(fd.Unit), dashIfEmpty(fd.Description)})
	}
	fmt.Fprintln(w)
	table(w, []string{"FIELD", "TYPE", "UNIT", "DESCRIPTION"}, rows)
}

func sourceGet(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("source get", "--bucket BUCKET SOURCE-ID", stdout, stderr)
	bucket := bucketFlag(a)
	c, id, code, ok := withBucket(a, args, bucket, "SOURCE-ID")
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	s, err := c.GetSource(ctx, id, a.pos[0])
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, s)
	}
	printSource(stdout, &s.DataSource)
	first, last := "-", "-"
	if s.Stats.FirstDataPoint != nil {
		first = timeText(*s.Stats.FirstDataPoint)
	}
	if s.Stats.LastDataPoint != nil {
		last = timeText(*s.Stats.LastDataPoint)
	}
	fmt.Fprintln(stdout)
	kv(stdout, "Data points", strconv.FormatInt(s.Stats.DataPointCount, 10), "First point", first, "Last point", last)
	return 0
}

func sourceUpdate(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("source update", "--bucket BUCKET SOURCE-ID [flags]", stdout, stderr)
	bucket := bucketFlag(a)
	name := a.fs.String("name", "", "new name")
	desc := a.fs.String("description", "", "new description")
	typ := a.fs.String("type", "", "new type: sensor, api, webhook, manual, application or service")
	status := a.fs.String("status", "", "active, or inactive (refuses new points)")
	down := a.fs.Bool("downsampling", true, "answer unbounded raw queries with averages")
	fields := fieldsFlag{}
	a.fs.Var(fields, "field", "a field to add, or whose unit changes: NAME:TYPE[:UNIT] (repeat)")
	c, id, code, ok := withBucket(a, args, bucket, "SOURCE-ID")
	if !ok {
		return code
	}
	// Flags given are sent even when empty: the server judges them.
	var req client.UpdateSourceRequest
	set := false
	for _, f := range []struct {
		flag string
		dst  **string
		v    *string
	}{{"name", &req.Name, name}, {"description", &req.Description, desc}, {"type", &req.Type, typ}, {"status", &req.Status, status}} {
		if a.visited(f.flag) {
			*f.dst, set = f.v, true
		}
	}
	if a.visited("downsampling") {
		req.Downsampling, set = down, true
	}
	if len(fields) > 0 {
		req.Schema, set = fields, true
	}
	if !set {
		return a.usageError("give at least one of --name, --description, --type, --status, --downsampling, --field")
	}
	ctx, cancel := a.ctx()
	defer cancel()
	s, err := c.UpdateSource(ctx, id, a.pos[0], req)
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, s)
	}
	printSource(stdout, s)
	return 0
}

func sourceDelete(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("source delete", "--bucket BUCKET SOURCE-ID", stdout, stderr)
	bucket := bucketFlag(a)
	c, id, code, ok := withBucket(a, args, bucket, "SOURCE-ID")
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	res, err := c.DeleteSource(ctx, id, a.pos[0])
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "deleted data source %s (%s): %d points, %d alert rules\n", res.DeletedDataSource.Name, res.DeletedDataSource.ID,
		res.DeletedResources.DataPoints, res.DeletedResources.AlertRules)
	return 0
}
