package checker

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/dakkio/dakkio/jepsen/history"
)

// Register checks the register workload for linearizability with
// porcupine. Each key is one bucket, created once: its state is whether it
// exists and its description. Operations (F): create (Value: description;
// fail = 409, the name exists), write (PATCH the description; fail = 404),
// read (GET; Found false = 404), delete (fail = 404). An info operation may
// have happened at any time after its start, or never; a read that timed out
// says nothing and is dropped.
//
// visualize, if not empty, is the path of porcupine's HTML timeline.
//
// Each nonlinearizable bucket is checked again with every read allowed to
// be up to Staleness stale (its invocation moved earlier): the note tells
// whether stale follower reads explain the violations (docs/cluster.md:
// other nodes apply a change "normally within a heartbeat").
func Register(ops []history.Op, timeout time.Duration, visualize string) *Verdict {
	v := newVerdict("register")
	var pops []porcupine.Operation
	var end int64
	for _, op := range ops {
		if op.End > end {
			end = op.End
		}
	}
	clients := map[int]int{} // process -> dense client id, for the timeline
	for _, op := range ops {
		switch op.F {
		case "create", "write", "read", "delete":
		default:
			continue
		}
		if op.Key == "" {
			continue
		}
		v.Stats[op.F+":"+op.Type]++
		if op.F == "read" && op.Type != history.OK {
			continue
		}
		in := regInput{Key: op.Key, F: op.F, Value: op.Value, Index: op.Index}
		out := regOutput{Type: op.Type, Found: op.Found, Value: op.Value}
		ret := op.End
		if op.Type == history.Info {
			ret = end + 1 // may take effect any time until the end
		}
		if _, ok := clients[op.Process]; !ok {
			clients[op.Process] = len(clients)
		}
		pops = append(pops, porcupine.Operation{ClientId: clients[op.Process], Input: in, Call: op.Start, Output: out, Return: ret})
	}
	model := registerModel()
	byKey := map[string][]porcupine.Operation{}
	for _, p := range pops {
		k := p.Input.(regInput).Key
		byKey[k] = append(byKey[k], p)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	v.Stats["keys"] = int64(len(keys))
	for _, k := range keys {
		res := porcupine.CheckOperationsTimeout(model, byKey[k], timeout)
		switch res {
		case porcupine.Illegal:
			var idx []int
			for _, p := range byKey[k] {
				idx = append(idx, p.Input.(regInput).Index)
			}
			why := "not explained by stale reads"
			if porcupine.CheckOperationsTimeout(model, staler(byKey[k], int64(Staleness)), timeout) == porcupine.Ok {
				why = "linearizable if reads may be " + Staleness.String() + " stale"
				v.Stats["explained-by-stale-reads"]++
			}
			v.add(Anomaly{Kind: "nonlinearizable", Key: k, Ops: firstN(idx, 200),
				Message: fmt.Sprintf("no linearization of the %d operations on bucket %s exists (%s; see register.html)", len(byKey[k]), k, why)})
		case porcupine.Unknown:
			v.Valid, v.Unknown = false, true
			v.Stats["unknown-keys"]++
			v.note("bucket %s: porcupine timed out after %s", k, timeout)
		}
	}
	if visualize != "" && len(pops) > 0 {
		_, info := porcupine.CheckOperationsVerbose(model, pops, timeout)
		if err := porcupine.VisualizePath(model, info, visualize); err != nil {
			v.note("cannot write the timeline: %v", err)
		}
	}
	return v
}

// Staleness is how stale a read may be in the second check of a
// nonlinearizable bucket: a node cut off from the leader serves its local
// state until the 5s key lease runs out, plus a heartbeat.
const Staleness = 6 * time.Second

// staler returns ops with every read's invocation moved d earlier.
func staler(ops []porcupine.Operation, d int64) []porcupine.Operation {
	out := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		out[i] = op
		if op.Input.(regInput).F == "read" {
			out[i].Call = max(0, op.Call-d)
		}
	}
	return out
}

func firstN(xs []int, n int) []int {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

type regInput struct {
	Key   string
	F     string
	Value string
	Index int
}

type regOutput struct {
	Type  string
	Found bool
	Value string
}

type regState struct {
	Exists bool
	Desc   string
}

func registerModel() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			m := map[string][]porcupine.Operation{}
			var order []string
			for _, op := range h {
				k := op.Input.(regInput).Key
				if _, ok := m[k]; !ok {
					order = append(order, k)
				}
				m[k] = append(m[k], op)
			}
			out := make([][]porcupine.Operation, 0, len(order))
			for _, k := range order {
				out = append(out, m[k])
			}
			return out
		},
		Init: func() []any { return []any{regState{}} },
		Step: func(st, input, output any) []any {
			return registerStep(st.(regState), input.(regInput), output.(regOutput))
		},
		Equal: func(a, b any) bool { return a.(regState) == b.(regState) },
		Hash: func(s any) uint64 {
			st := s.(regState)
			h := uint64(14695981039346656037)
			for _, c := range []byte(st.Desc) {
				h = (h ^ uint64(c)) * 1099511628211
			}
			if st.Exists {
				h ^= math.MaxUint32
			}
			return h
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(regInput), output.(regOutput)
			switch {
			case out.Type == history.Info:
				return fmt.Sprintf("%s(%q) -> ?", in.F, in.Value)
			case in.F == "read" && !out.Found:
				return "read() -> 404"
			case in.F == "read":
				return fmt.Sprintf("read() -> %q", out.Value)
			}
			return fmt.Sprintf("%s(%q) -> %s", in.F, in.Value, out.Type)
		},
		DescribeState: func(s any) string {
			st := s.(regState)
			if !st.Exists {
				return "absent"
			}
			return fmt.Sprintf("%q", st.Desc)
		},
	}
	return nm.ToModel()
}

// registerStep returns the states the register can be in after the
// operation, none if the operation is impossible in st.
func registerStep(st regState, in regInput, out regOutput) []any {
	applied := func() (regState, bool) {
		switch in.F {
		case "create":
			if st.Exists {
				return st, false
			}
			return regState{Exists: true, Desc: in.Value}, true
		case "write":
			if !st.Exists {
				return st, false
			}
			return regState{Exists: true, Desc: in.Value}, true
		case "delete":
			if !st.Exists {
				return st, false
			}
			return regState{}, true
		}
		return st, false
	}
	switch out.Type {
	case history.Info:
		if next, ok := applied(); ok {
			return []any{st, next}
		}
		return []any{st}
	case history.OK:
		if in.F == "read" {
			if out.Found == st.Exists && (!st.Exists || out.Value == st.Desc) {
				return []any{st}
			}
			return nil
		}
		if next, ok := applied(); ok {
			return []any{next}
		}
		return nil
	case history.Fail:
		// create fails with 409 when the bucket exists; write and delete
		// fail with 404 when it does not.
		if (in.F == "create") == st.Exists {
			return []any{st}
		}
		return nil
	}
	return nil
}
