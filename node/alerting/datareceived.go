package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/dakkio/dakkio/store"
	"github.com/dakkio/dakkio/store/points"
)

// Webhook subscriptions (store.Webhook) are delivered by the alert engine's
// delivery loop, beside the alert rules' webhooks: the same durable queue
// in the Raft state, the same retries, signatures and egress policy.
//
// alert.triggered and bucket.updated deliveries are made by the FSM itself
// when it applies the trigger or the bucket change, so each happens once.
// data.received rides on the alert evaluation queue: the bucket's
// evaluator queues a client's write in the same commit as its points when a
// webhook of the bucket wants the event, and after evaluating the record
// proposes one PublishEvent for it. The answer to the write never waits for
// that, and a record left by a crash is published after the restart; its
// cause (node, queue position, commit time) makes a second proposal a
// no-op.

// maxEventPoints is how many points a data.received payload lists; the
// rest are only counted.
const maxEventPoints = 100

// wantsDataReceived reports whether this node queues the bucket's writes
// for data.received: it evaluates the bucket and a webhook listens.
func (e *Engine) wantsDataReceived(bucketID string) bool {
	return e.cfg.State.WantsEvent(bucketID, store.EventDataReceived) && e.cfg.IsEvaluator(bucketID)
}

// publishDataReceived proposes the data.received event of a write that
// node queued.
func (e *Engine) publishDataReceived(ctx context.Context, node string, rec points.EvalRecord) error {
	if len(rec.Points) == 0 || !e.cfg.State.WantsEvent(rec.Bucket, store.EventDataReceived) {
		return nil
	}
	data := dataReceivedData(e.cfg.State, rec.Bucket, rec.Points)
	cause := "data:" + node + ":" + strconv.FormatUint(rec.Seq, 10) + ":" + strconv.FormatInt(rec.At.UnixNano(), 10)
	_, err := e.cfg.Apply(ctx, store.PublishEvent{BucketID: rec.Bucket, Event: store.EventDataReceived, Cause: cause, At: rec.At.UTC(), Data: data})
	if errors.Is(err, store.ErrNotFound) {
		return nil // the bucket is gone, and its webhooks with it
	}
	if err != nil {
		return fmt.Errorf("cannot publish data.received for bucket %s: %w", rec.Bucket, err)
	}
	e.Kick()
	return nil
}

// dataReceivedData is the "data" of a data.received event:
// {"count","dataPoints":[...at most 100],"truncated"}.
func dataReceivedData(st *store.State, bucketID string, pts []points.Point) json.RawMessage {
	names := map[string]string{}
	var buf bytes.Buffer
	buf.WriteString(`{"count":`)
	buf.WriteString(strconv.Itoa(len(pts)))
	buf.WriteString(`,"dataPoints":[`)
	for i, p := range pts[:min(len(pts), maxEventPoints)] {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, ok := names[p.SourceID]
		if !ok {
			if src, err := st.Source(bucketID, p.SourceID); err == nil {
				name = src.Name
			}
			names[p.SourceID] = name
		}
		buf.WriteString(`{"dataSourceId":`)
		store.WriteJSONString(&buf, p.SourceID)
		buf.WriteString(`,"dataSourceName":`)
		store.WriteJSONString(&buf, name)
		buf.WriteString(`,"timestamp":`)
		store.WriteJSONString(&buf, store.FormatTime(time.Unix(0, p.TS)))
		buf.WriteString(`,"values":{`)
		for j, v := range p.Values {
			if j > 0 {
				buf.WriteByte(',')
			}
			store.WriteJSONString(&buf, v.Field)
			buf.WriteByte(':')
			switch v.Kind {
			case points.KindNumber:
				if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
					buf.WriteString("null")
				} else {
					buf.WriteString(strconv.FormatFloat(v.Num, 'g', -1, 64))
				}
			case points.KindString:
				store.WriteJSONString(&buf, v.Str)
			case points.KindBool:
				buf.WriteString(strconv.FormatBool(v.Bool))
			default:
				buf.WriteString("null")
			}
		}
		buf.WriteString(`},"metadata":`)
		if len(p.Metadata) > 0 && json.Valid(p.Metadata) {
			buf.Write(p.Metadata)
		} else {
			buf.WriteString("{}")
		}
		buf.WriteByte('}')
	}
	buf.WriteString(`],"truncated":`)
	buf.WriteString(strconv.FormatBool(len(pts) > maxEventPoints))
	buf.WriteByte('}')
	return buf.Bytes()
}

// withoutDeletedSources drops the points of deleted data sources: a hint or
// a repair copy arriving after the delete must not bring them back.
func (e *Engine) withoutDeletedSources(pts []points.Point) []points.Point {
	drop := false
	seen := map[string]bool{}
	for i := range pts {
		id := pts[i].SourceID
		if _, ok := seen[id]; !ok {
			seen[id] = e.cfg.State.SourceDeleted(id)
			drop = drop || seen[id]
		}
	}
	if !drop {
		return pts
	}
	out := make([]points.Point, 0, len(pts))
	for _, p := range pts {
		if !seen[p.SourceID] {
			out = append(out, p)
		}
	}
	return out
}

// Applied wakes the delivery loop at once when applying cmd may have
// made webhook deliveries; it is told of every command this node commits.
func (e *Engine) Applied(cmd any) {
	switch cmd.(type) {
	case store.TriggerAlert, store.UpdateBucket, store.PublishEvent, store.TestWebhook:
		e.Kick()
	}
}
