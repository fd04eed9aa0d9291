package client_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/backupfile"
)

// BenchmarkBackupSize measures a backup's bytes per point, compressed (the
// file dakkio backup writes) and in the first, uncompressed format, over
// 300,000 points of ten sensors (a reading every 10 s: temperature to a
// tenth of a degree, humidity in whole percent, a door flag):
//
//	go test -run '^$' -bench BackupSize -benchtime 1x ./client/
func BenchmarkBackupSize(b *testing.B) {
	ctx := b.Context()
	op := client.New(nodeURL, client.WithOperatorToken(operatorToken))
	org, err := op.CreateOrg(ctx, client.CreateOrgRequest{Name: fmt.Sprint("bench-", time.Now().UnixNano()), Plan: client.PlanEnterprise})
	if err != nil {
		b.Fatal(err)
	}
	c := client.New(nodeURL, client.WithAPIKey(org.AdminKey.Key))
	bucket, err := c.CreateBucket(ctx, client.CreateBucketRequest{Name: "sizes", RetentionDays: client.Ptr(365)})
	if err != nil {
		b.Fatal(err)
	}
	const sources, perSource = 10, 30000
	start := time.Now().UTC().Add(-perSource * 10 * time.Second).Truncate(time.Second)
	rng := rand.New(rand.NewPCG(1, 2))
	for s := range sources {
		src, err := c.CreateSource(ctx, bucket.ID, client.CreateSourceRequest{Name: fmt.Sprint("sensor-", s),
			Schema: map[string]client.Field{"temperature": {Type: client.FieldTypeNumber}, "humidity": {Type: client.FieldTypeNumber},
				"door": {Type: client.FieldTypeBoolean}}})
		if err != nil {
			b.Fatal(err)
		}
		temp, hum := 20.0, 50.0
		batch := make([]client.PointInput, 0, 1000)
		for i := range perSource {
			temp += float64(rng.IntN(3)-1) / 10
			hum = max(0, min(100, hum+float64(rng.IntN(3)-1)))
			batch = append(batch, client.PointInput{DataSourceID: src.ID, Timestamp: start.Add(time.Duration(i) * 10 * time.Second),
				Values: map[string]any{"temperature": float64(int(temp*10)) / 10, "humidity": hum, "door": rng.IntN(50) == 0}})
			if len(batch) == cap(batch) {
				if _, err := c.WriteBatch(ctx, client.WriteBatchRequest{BucketID: bucket.ID, DataPoints: batch}); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		var file bytes.Buffer
		sum, err := op.Backup(ctx, &file, client.BackupOptions{AllowPartial: true})
		if err != nil {
			b.Fatal(err)
		}
		var old countingWriter
		rewrite(b, file.Bytes(), &old)
		b.ReportMetric(float64(file.Len())/float64(sum.Trailer.Points), "bytes/point")
		b.ReportMetric(float64(old.n)/float64(sum.Trailer.Points), "uncompressed-bytes/point")
		b.ReportMetric(float64(sum.Trailer.Points), "points")
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// rewrite writes the backup file in the uncompressed format to w.
func rewrite(b *testing.B, file []byte, w io.Writer) {
	br, err := backupfile.NewReader(bytes.NewReader(file))
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	bw, err := backupfile.NewWriterFormat(w, backupfile.FormatUncompressed)
	if err != nil {
		b.Fatal(err)
	}
	for {
		kind, payload, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := bw.Frame(kind, payload); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := bw.Close(); err != nil {
		b.Fatal(err)
	}
}
