package checker

import (
	"fmt"
	"math"
	"sort"

	"github.com/dakkio/dakkio/jepsen/history"
)

// The alert workload's points: id i has value AlertValue(i), which meets
// AlertCondition when i is a multiple of ten and not otherwise; a delivery's
// point value gives its id back (AlertID).
const (
	AlertCondition = "v is greater than 999999999"
	alertOffset    = 1e9
)

// AlertTriggers tells whether point id meets the rule.
func AlertTriggers(id int64) bool { return id%10 == 0 }

// AlertValue is the value written for point id.
func AlertValue(id int64) float64 {
	if AlertTriggers(id) {
		return float64(id) + alertOffset
	}
	return float64(id)
}

// AlertID is the id of the point whose value is v.
func AlertID(v float64) int64 {
	if v > alertOffset {
		return int64(math.Round(v - alertOffset))
	}
	return int64(math.Round(v))
}

// alertState is what the history says of points and deliveries.
type alertState struct {
	acked, indet, failed, attempted map[int64]bool
	addOp                           map[int64]int
	taken                           map[int64][]history.Op // 2xx deliveries by point
	all                             map[int64][]history.Op // every delivery by point
	byDelivery                      map[string]map[int64]bool
	undecodable                     []history.Op
}

func readAlert(ops []history.Op) *alertState {
	s := &alertState{acked: map[int64]bool{}, indet: map[int64]bool{}, failed: map[int64]bool{}, attempted: map[int64]bool{},
		addOp: map[int64]int{}, taken: map[int64][]history.Op{}, all: map[int64][]history.Op{}, byDelivery: map[string]map[int64]bool{}}
	for _, op := range ops {
		switch op.F {
		case "add":
			for _, id := range op.Ints {
				s.attempted[id] = true
				s.addOp[id] = op.Index
				switch op.Type {
				case history.OK:
					s.acked[id] = true
				case history.Fail:
					s.failed[id] = true
				default:
					s.indet[id] = true
				}
			}
		case "delivery":
			if len(op.Ints) == 0 {
				s.undecodable = append(s.undecodable, op)
				continue
			}
			id := op.Ints[0]
			s.all[id] = append(s.all[id], op)
			if op.Type == history.OK {
				s.taken[id] = append(s.taken[id], op)
			}
			if s.byDelivery[op.Key] == nil {
				s.byDelivery[op.Key] = map[int64]bool{}
			}
			s.byDelivery[op.Key][id] = true
		}
	}
	for id := range s.acked {
		delete(s.indet, id)
		delete(s.failed, id)
	}
	return s
}

// AlertUndelivered lists the acknowledged triggering points that no
// delivery the receiver took has named yet.
func AlertUndelivered(ops []history.Op) []int64 {
	s := readAlert(ops)
	var out []int64
	for id := range s.acked {
		if AlertTriggers(id) && len(s.taken[id]) == 0 {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Alert checks the alert workload (one rule, cooldown 0: each point that
// meets it is one event).
//
// Anomalies:
//   - undelivered: an acknowledged point met the rule and no delivery the
//     receiver took names it, after the wait that follows healing;
//   - spurious: a delivery names a point that does not meet the rule, that
//     no client wrote, or whose write was refused with a 4xx;
//   - unrecognisable-duplicate: a point was delivered (and taken) under more
//     than one delivery id, so a receiver deduplicating by X-Dakkio-Delivery
//     would act twice;
//   - delivery-id-reused: one delivery id named two points;
//   - bad-delivery: a delivery the receiver could not decode, or without a
//     delivery id.
//
// Redeliveries under one id (retries after the receiver refused, or after
// a node died) are counted, not anomalies: delivery is at least once.
func Alert(ops []history.Op) *Verdict {
	v := newVerdict("alert")
	s := readAlert(ops)
	triggering := 0
	for id := range s.acked {
		if AlertTriggers(id) {
			triggering++
		}
	}
	v.Stats["acknowledged"] = int64(len(s.acked))
	v.Stats["acknowledged-triggering"] = int64(triggering)
	v.Stats["indeterminate"] = int64(len(s.indet))
	for _, op := range s.undecodable {
		v.add(Anomaly{Kind: "bad-delivery", Ops: []int{op.Index}, Message: fmt.Sprintf("delivery op %d: %s", op.Index, op.Error)})
	}
	deliveries, redelivered := 0, 0
	ids := make([]int64, 0, len(s.all))
	for id := range s.all {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		ds := s.all[id]
		deliveries += len(ds)
		opIdx := []int{ds[0].Index}
		switch {
		case !s.attempted[id]:
			v.add(Anomaly{Kind: "spurious", Key: fmt.Sprint(id), Ops: opIdx, Message: fmt.Sprintf("a delivery names point %d, which no client wrote", id)})
		case !AlertTriggers(id):
			v.add(Anomaly{Kind: "spurious", Key: fmt.Sprint(id), Ops: append(opIdx, s.addOp[id]),
				Message: fmt.Sprintf("a delivery names point %d (value %v), which does not meet %q", id, AlertValue(id), AlertCondition)})
		case s.failed[id]:
			v.add(Anomaly{Kind: "spurious", Key: fmt.Sprint(id), Ops: append(opIdx, s.addOp[id]),
				Message: fmt.Sprintf("a delivery names point %d, whose write was refused with a 4xx", id)})
		}
		keys := map[string]bool{}
		for _, d := range ds {
			if d.Key == "" {
				v.add(Anomaly{Kind: "bad-delivery", Key: fmt.Sprint(id), Ops: []int{d.Index}, Message: fmt.Sprintf("a delivery of point %d has no X-Dakkio-Delivery header", id)})
			}
		}
		for _, d := range s.taken[id] {
			keys[d.Key] = true
		}
		if len(s.taken[id]) > 1 {
			redelivered++
		}
		if len(keys) > 1 {
			var ops []int
			for _, d := range s.taken[id] {
				ops = append(ops, d.Index)
			}
			v.add(Anomaly{Kind: "unrecognisable-duplicate", Key: fmt.Sprint(id), Ops: ops,
				Message: fmt.Sprintf("point %d was delivered under %d delivery ids: a receiver deduplicating by X-Dakkio-Delivery acts on it %d times", id, len(keys), len(keys))})
		}
	}
	for key, pts := range s.byDelivery {
		if key != "" && len(pts) > 1 {
			v.add(Anomaly{Kind: "delivery-id-reused", Key: key, Message: fmt.Sprintf("delivery id %s named %d points", key, len(pts))})
		}
	}
	for _, id := range AlertUndelivered(ops) {
		v.add(Anomaly{Kind: "undelivered", Key: fmt.Sprint(id), Ops: []int{s.addOp[id]},
			Message: fmt.Sprintf("acknowledged point %d meets the rule; no delivery of it was taken", id)})
	}
	v.Stats["deliveries"] = int64(deliveries)
	v.Stats["points-delivered"] = int64(len(s.taken))
	v.Stats["points-taken-more-than-once"] = int64(redelivered)
	return v
}
