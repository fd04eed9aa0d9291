package checker

import (
	"fmt"
	"time"

	"github.com/dakkio/dakkio/jepsen/history"
)

// Revocation checks the revocation workload: clients keep using write keys
// ("use", Key = key id, ok = the node accepted the key) while an admin
// deletes them ("revoke", ok = the delete was acknowledged). docs/cluster.md
// promises every node refuses a deleted key within lease of the
// acknowledgement; so a use that started later than lease after the first
// acknowledged revoke and still succeeded is an anomaly
// ("accepted-after-lease"). Uses accepted after the acknowledgement but
// within the lease are counted, not failed (docs/api.md wants them refused at
// once by connected nodes; docs/cluster.md allows the next Raft round).
func Revocation(ops []history.Op, lease time.Duration) *Verdict {
	v := newVerdict("revocation")
	revoked := map[string]history.Op{}
	for _, op := range ops {
		if op.F != "revoke" {
			continue
		}
		v.Stats["revoke:"+op.Type]++
		if op.Type != history.OK {
			continue
		}
		if r, ok := revoked[op.Key]; !ok || op.End < r.End {
			revoked[op.Key] = op
		}
	}
	v.Stats["keys-revoked"] = int64(len(revoked))
	var worst time.Duration
	for _, op := range ops {
		if op.F != "use" {
			continue
		}
		v.Stats["use:"+op.Type]++
		r, ok := revoked[op.Key]
		if !ok || op.Type != history.OK || op.Start <= r.End {
			continue
		}
		after := time.Duration(op.Start - r.End)
		worst = max(worst, after)
		if after <= lease {
			v.Stats["accepted-within-lease"]++
			continue
		}
		v.add(Anomaly{Kind: "accepted-after-lease", Key: op.Key, Ops: []int{r.Index, op.Index},
			Message: fmt.Sprintf("key %s was accepted by %s %s after its deletion was acknowledged (lease %s)",
				op.Key, op.Node, after.Round(time.Millisecond), lease)})
	}
	v.Stats["latest-acceptance-ms"] = worst.Milliseconds()
	if n := v.Stats["accepted-within-lease"]; n > 0 {
		v.note("%d calls were accepted after the key's deletion was acknowledged but within the %s lease (latest %s after)",
			n, lease, worst.Round(time.Millisecond))
	}
	return v
}
