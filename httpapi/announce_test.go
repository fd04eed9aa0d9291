package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/dakkio/dakkio/store/points"
)

// TestIngestMessageEndsItsAnnouncement: an MQTT message, stored or
// refused, withdraws the write it announced to the store, so that later
// lone writes are committed without the group commit waiting for it.
func TestIngestMessageEndsItsAnnouncement(t *testing.T) {
	e := newDataEnv(t)
	errs := e.s.IngestMessages(dfWriteKey, []Message{
		{Bucket: dfBucket, Source: "mqtt-sensor", Payload: []byte(`{"temperature":21.5}`)},
		{Bucket: dfBucket, Source: "mqtt-sensor", Payload: []byte(`{}`)}, // refused after its writer was made
	})
	if errs[0] != nil || errs[1] == nil {
		t.Fatalf("message results %v, want the first stored and the second refused", errs)
	}
	before := e.db.WriterStats()
	for i := range 20 {
		pts := []points.Point{{SourceID: dfNumSource, TS: dfNow.Add(-time.Duration(i+1) * time.Minute).UnixNano(), Values: []points.Value{{Field: "temperature", Kind: points.KindNumber, Num: 1}}}}
		if err := e.db.Write(context.Background(), dfBucket, pts); err != nil {
			t.Fatal(err)
		}
	}
	after := e.db.WriterStats()
	if after.Commits-before.Commits != 20 || after.Lingers != before.Lingers {
		t.Fatalf("20 lone writes after the messages: %d commits, %d lingered; want 20 and none", after.Commits-before.Commits, after.Lingers-before.Lingers)
	}
}
