package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/backupfile"
)

// backupData is what the backup tests write before backing up: buckets,
// sources of every value kind, keys, an alert rule, and points.
type backupData struct {
	buckets []string
	sources map[string][]string // bucket -> sources
	keys    []string            // bucket keys' secrets (a read key and a write key)
	points  int
}

// fillForBackup creates two buckets with sources, keys and a rule, and
// writes perSource points to each source, over the last days.
func fillForBackup(t *testing.T, ctx context.Context, admin *client.Client, perSource int) backupData {
	t.Helper()
	d := backupData{sources: map[string][]string{}}
	start := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(perSource) * 20 * time.Second)
	schemas := []map[string]client.Field{
		{"temperature": {Type: "number", Unit: "C"}, "door": {Type: "boolean"}, "state": {Type: "string"}},
		{"load": {Type: "number"}},
	}
	for b, name := range []string{"greenhouse", "factory"} {
		bucket := must[*client.Bucket](t, "create bucket")(admin.CreateBucket(ctx, client.CreateBucketRequest{Name: name, RetentionDays: ptr(365)}))
		d.buckets = append(d.buckets, bucket.ID)
		for _, typ := range []client.KeyType{client.KeyTypeRead, client.KeyTypeWrite} {
			k := must[*client.CreatedKey](t, "create key")(admin.CreateKey(ctx, bucket.ID, client.CreateKeyRequest{Name: name + "-" + string(typ), Type: typ}))
			d.keys = append(d.keys, k.Key)
		}
		for s := range 2 - b {
			schema := schemas[(b+s)%2]
			src := must[*client.DataSource](t, "create source")(admin.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: fmt.Sprintf("sensor-%d", s), Schema: schema}))
			d.sources[bucket.ID] = append(d.sources[bucket.ID], src.ID)
			if b == 0 && s == 0 {
				must[*client.AlertRule](t, "create alert")(admin.CreateAlert(ctx, client.CreateAlertRequest{BucketID: bucket.ID, DataSourceID: src.ID,
					Name: "too hot", Condition: "temperature exceeds 1000", WebhookURL: "http://receiver.invalid/hook"})) // never fires; .invalid never resolves, and loopback would be refused
			}
			for from := 0; from < perSource; from += 1000 {
				var pts []client.PointInput
				for i := from; i < min(perSource, from+1000); i++ {
					p := client.PointInput{DataSourceID: src.ID, Timestamp: start.Add(time.Duration(i) * 20 * time.Second)}
					if _, ok := schema["door"]; ok {
						// Halves add up exactly whatever the order.
						p.Values = map[string]any{"temperature": float64(i%300) / 2, "door": i%7 == 0, "state": fmt.Sprintf("s%d", i%5)}
					} else {
						p.Values = map[string]any{"load": float64(i % 1000)}
					}
					if i%10 == 0 {
						p.Metadata = map[string]any{"batch": from, "note": "ünïcode <&>"}
					}
					pts = append(pts, p)
				}
				must[int](t, "write batch")(admin.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: pts}))
				d.points += len(pts)
			}
		}
	}
	return d
}

// backupAnswers collects every answer that must be the same after a
// restore: buckets and their stats, sources, keys, rules, and per source
// every raw page and hourly, daily and overall aggregates.
func backupAnswers(t *testing.T, ctx context.Context, admin *client.Client, d backupData) string {
	t.Helper()
	var b strings.Builder
	add := func(what string, v any) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %s\n", what, j)
	}
	add("buckets", must[*client.List[client.Bucket]](t, "list buckets")(admin.ListBuckets(ctx, client.Page{})).Data)
	for _, id := range d.buckets {
		add("bucket", must[*client.BucketWithStats](t, "get bucket")(admin.GetBucket(ctx, id)))
		add("sources", must[*client.List[client.DataSource]](t, "list sources")(admin.ListSources(ctx, id, client.Page{})).Data)
		keys := must[*client.List[client.APIKey]](t, "list keys")(admin.ListKeys(ctx, id, client.Page{})).Data
		for i := range keys {
			keys[i].LastUsedAt = nil // each cluster notes its own uses
		}
		add("keys", keys)
		add("alerts", must[*client.List[client.AlertRule]](t, "list alerts")(admin.ListAlerts(ctx, id, client.Page{})).Data)
		for _, src := range d.sources[id] {
			for off := 0; ; off += 1000 {
				res := must[*client.QueryResult](t, "raw page")(admin.Query(ctx, client.QueryRequest{BucketID: id, RefusePartial: true,
					Filters: client.QueryFilters{DataSourceID: src, Limit: 1000, Offset: off}}))
				add("raw", res.Data)
				if !res.Metadata.HasMore {
					add("total", res.Metadata.Total)
					break
				}
			}
			for _, q := range [][2]string{{"avg", "hour"}, {"max", "day"}, {"count", "day"}, {"last", ""}, {"sum", ""}} {
				res := must[*client.QueryResult](t, "aggregate")(admin.Query(ctx, client.QueryRequest{BucketID: id, RefusePartial: true,
					Aggregation: client.Aggregation(q[0]), GroupBy: client.GroupBy(q[1]), Filters: client.QueryFilters{DataSourceID: src}}))
				add(q[0]+"/"+q[1], res.Data)
			}
		}
	}
	return b.String()
}

// runCLI runs the dakkio command in this process, as a user would.
func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// backupUntilInSync runs 'dakkio backup' until it succeeds: just after a
// start, replicas are not yet known to be in sync and the backup refuses
// to read them.
func backupUntilInSync(t *testing.T, ctx context.Context, file string, args ...string) string {
	t.Helper()
	var out string
	eventuallyCtx(t, ctx, "backup", func() error {
		code, stdout, stderr := runCLI(append([]string{"backup", "--out", file}, args...)...)
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, stderr)
		}
		out = stdout
		return nil
	})
	return out
}

func TestBackupRestoreCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	src := startCluster(t, 3, "--repair-interval", "2s")
	d := fillForBackup(t, ctx, src.admin(src.nodes[0]), 12000)

	file := filepath.Join(t.TempDir(), "cluster.backup")
	// Through a node that may not be the leader, nor hold every bucket.
	out := backupUntilInSync(t, ctx, file, "--addr", src.nodes[2].url, "--token", src.token)
	t.Logf("backup of %d points:\n%s", d.points, out)
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600", err, info.Mode())
	}
	want := backupAnswers(t, ctx, src.admin(src.nodes[1]), d)
	for _, n := range src.nodes {
		n.stop()
	}

	dst := startCluster(t, 3, "--repair-interval", "2s")
	restore := func(file string, n *clusterNode) (int, string, string) {
		return runCLI("restore", "--in", file, "--addr", n.url, "--token", dst.token)
	}
	// A damaged file restores nothing.
	whole, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	damaged := map[string][]byte{
		"truncated": whole[:len(whole)*2/3],
		"corrupt":   bytes.Clone(whole),
		"no such":   nil,
	}
	damaged["corrupt"][len(whole)/2] ^= 0x40
	for want, content := range damaged {
		path := filepath.Join(t.TempDir(), "damaged.backup")
		if content != nil {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		code, _, stderr := restore(path, dst.nodes[1])
		// A flipped byte in the compressed stream reads as damage, or, when
		// the decoder runs out of input first, as a cut (internal/backupfile
		// allows both, TestDamageIsRefused): which depends on the data.
		named := strings.Contains(stderr, want) || want == "corrupt" && strings.Contains(stderr, "truncated")
		if code != 1 || !named {
			t.Fatalf("restore of a %s file: exit %d, stderr %q; want 1 and %q", want, code, stderr, want)
		}
	}
	if l := must[*client.List[client.Bucket]](t, "list buckets")(dst.admin(dst.nodes[0]).ListBuckets(ctx, client.Page{})); len(l.Data) != 0 {
		t.Fatalf("a refused restore left %d buckets", len(l.Data))
	}

	start := time.Now()
	code, stdout, stderr := restore(file, dst.nodes[1])
	if code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("restore took %s:\n%s", time.Since(start).Round(time.Millisecond), stdout)

	// Restored buckets are new to the replicas' repair: reads are marked
	// partial until its next pass has compared them.
	for _, n := range dst.nodes {
		for _, id := range d.buckets {
			eventuallyCtx(t, ctx, "replicas in sync", func() error {
				_, err := src.admin(n).Query(ctx, client.QueryRequest{BucketID: id, RefusePartial: true, Filters: client.QueryFilters{Limit: 1}})
				return err
			})
		}
	}
	// The old cluster's admin key works on the new one, its initial key no longer.
	for _, n := range dst.nodes {
		if got := backupAnswers(t, ctx, src.admin(n), d); got != want {
			t.Fatalf("answers of %s after restore differ:\n%s", n.id, firstDiff(want, got))
		}
	}
	_, err = dst.admin(dst.nodes[0]).ListBuckets(ctx, client.Page{})
	wantStatus(t, "the new cluster's initial admin key", err, http.StatusUnauthorized)
	for _, key := range d.keys {
		res, err := dst.nodes[2].client(key).Query(ctx, client.QueryRequest{BucketID: d.buckets[0], Filters: client.QueryFilters{Limit: 1}})
		if err != nil && !client.IsStatus(err, http.StatusForbidden) {
			t.Fatalf("old bucket key after restore: %v", err)
		}
		_ = res
	}
	// The placement is the new cluster's.
	st := must[*client.ClusterStatus](t, "cluster status")(dst.op(dst.nodes[0]).ClusterStatus(ctx))
	for _, id := range d.buckets {
		if len(st.Placement[id]) != 3 {
			t.Errorf("bucket %s placed on %v, want the 3 new nodes", id, st.Placement[id])
		}
	}

	// Once restored, the cluster is not fresh any more.
	code, _, stderr = restore(file, dst.nodes[0])
	if code != 1 || !strings.Contains(stderr, "Conflict") || !strings.Contains(stderr, "fresh cluster") {
		t.Fatalf("second restore: exit %d, %q; want a 409 asking for a fresh cluster", code, stderr)
	}
}

func TestBackupRestoreSingleNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	adminKey, token := "dakkio_a_"+strings.Repeat("b", 40), "dakkio_op_backupSingleNodeToken0001"
	env := []string{"DAKKIO_INITIAL_ADMIN_KEY=" + adminKey, "DAKKIO_OPERATOR_TOKEN=" + token}
	s := startServer(t, "backup source", t.TempDir(), env, nil)
	d := fillForBackup(t, ctx, s.client(adminKey), 3000)
	file := filepath.Join(t.TempDir(), "single.backup")
	backupUntilInSync(t, ctx, file, "--addr", s.url, "--token", token, "--progress")
	want := backupAnswers(t, ctx, s.client(adminKey), d)
	// A backup whose output fails says so, not that the stream is bad.
	if _, err := s.operator(token).Backup(ctx, &fullDisk{room: 4096}, client.BackupOptions{AllowPartial: true}); err == nil ||
		!strings.Contains(err.Error(), "cannot write the backup") || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("backup into a full disk: %v, want an error naming the write", err)
	}
	s.stop()

	// Into a fresh node of its own credentials.
	dstAdmin, dstToken := "dakkio_a_"+strings.Repeat("c", 40), "dakkio_op_backupSingleNodeToken0002"
	dst := startServer(t, "restore target", t.TempDir(), []string{"DAKKIO_INITIAL_ADMIN_KEY=" + dstAdmin, "DAKKIO_OPERATOR_TOKEN=" + dstToken}, nil)
	if code, stdout, stderr := runCLI("restore", "--in", file, "--addr", dst.url, "--token", dstToken, "--json"); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := backupAnswers(t, ctx, dst.client(adminKey), d); got != want {
		t.Fatalf("answers after restore differ:\n%s", firstDiff(want, got))
	}
	// The operator token is the target's own.
	if _, err := dst.operator(dstToken).ListOrgs(ctx, client.Page{}); err != nil {
		t.Fatalf("the target's operator token after restore: %v", err)
	}
	dst.stop()

	// A backup of the first, uncompressed format still restores.
	old := filepath.Join(t.TempDir(), "format1.backup")
	toUncompressed(t, file, old)
	oldAdmin, oldToken := "dakkio_a_"+strings.Repeat("d", 40), "dakkio_op_backupSingleNodeToken0003"
	dst1 := startServer(t, "format 1 restore target", t.TempDir(), []string{"DAKKIO_INITIAL_ADMIN_KEY=" + oldAdmin, "DAKKIO_OPERATOR_TOKEN=" + oldToken}, nil)
	if code, stdout, stderr := runCLI("restore", "--in", old, "--addr", dst1.url, "--token", oldToken); code != 0 {
		t.Fatalf("restore of a format 1 backup: exit %d\n%s%s", code, stdout, stderr)
	}
	if got := backupAnswers(t, ctx, dst1.client(adminKey), d); got != want {
		t.Fatalf("answers after restoring the format 1 backup differ:\n%s", firstDiff(want, got))
	}
}

// toUncompressed rewrites the backup src in the first, uncompressed
// format into dst, as a backup taken before compression was.
func toUncompressed(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	br, err := backupfile.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if br.Format() != backupfile.Format {
		t.Fatalf("dakkio backup wrote format %d, want %d (compressed)", br.Format(), backupfile.Format)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	bw, err := backupfile.NewWriterFormat(out, backupfile.FormatUncompressed)
	if err != nil {
		t.Fatal(err)
	}
	for {
		kind, payload, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if kind == backupfile.KindHeader {
			var h backupfile.Header
			if err := json.Unmarshal(payload, &h); err != nil {
				t.Fatal(err)
			}
			h.Format = backupfile.FormatUncompressed
			err = bw.JSON(kind, h)
		} else {
			err = bw.Frame(kind, payload)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	fin, _ := in.Stat()
	fout, _ := out.Stat()
	t.Logf("backup: %d bytes compressed, %d uncompressed", fin.Size(), fout.Size())
}

// firstDiff shows the first line where two answers differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant %.600s\ngot  %.600s", i, a, b)
		}
	}
	return "(same)"
}

// fullDisk takes room bytes, then fails every write as a full disk would.
type fullDisk struct{ room int }

func (f *fullDisk) Write(p []byte) (int, error) {
	if len(p) > f.room {
		n := f.room
		f.room = 0
		return n, errors.New("no space left on device")
	}
	f.room -= len(p)
	return len(p), nil
}
