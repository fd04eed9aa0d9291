package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/jepsen/history"
)

// backupWorkload is the set workload's writers plus a backup taken through
// a random node a third of the way into the faults (retried until one
// completes). After healing, the cluster is stopped, a fresh one started in
// the same namespaces, the backup restored into it, and the bucket read
// through every node of the fresh cluster: it must hold every point
// acknowledged before the successful backup began.
type backupWorkload struct {
	set  setWorkload
	file string
}

func (w *backupWorkload) Setup(ctx context.Context, e *Env) error {
	w.file = filepath.Join(e.Dir, "cluster.backup")
	return w.set.Setup(ctx, e)
}

func (w *backupWorkload) Run(ctx context.Context, e *Env) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if !sleepCtx(ctx, e.Cfg.Duration/3) {
			return
		}
		r := e.Rand(400)
		for attempt := 0; attempt < 1000 && ctx.Err() == nil; attempt++ {
			if w.backup(ctx, e, e.RandomNode(r)) {
				return
			}
			sleepCtx(ctx, time.Second)
		}
	}()
	w.set.Run(ctx, e)
	<-done
}

// backup takes one backup through nd into w.file; it records the attempt.
func (w *backupWorkload) backup(ctx context.Context, e *Env, nd *Node) bool {
	start := e.Rec.Now()
	f, err := os.Create(w.file + ".part")
	var sum *client.BackupSummary
	if err == nil {
		// A backup of a few thousand points takes seconds; faults may
		// stretch it.
		bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		sum, err = e.C.Client(nd, "").Backup(bctx, f, client.BackupOptions{})
		cancel()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(w.file+".part", w.file)
	}
	typ, status := classify(err)
	if typ == history.Fail {
		typ = history.Info // a failed backup is retried; it holds nothing
	}
	op := history.Op{Process: 500, F: "backup", Type: typ, Node: nd.ID, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()}
	if sum != nil {
		op.N = sum.Trailer.Points
	}
	e.Rec.Add(op)
	return err == nil
}

func (w *backupWorkload) Final(ctx context.Context, e *Env) {
	w.set.Final(ctx, e) // the faulted cluster's own final reads, as the set workload
	if _, err := os.Stat(w.file); err != nil {
		// A strict backup refuses while any replica may be behind, which
		// under steady faults can be the whole run: take it now, healed, so
		// that the restore is still checked (the checker notes when).
		e.logf("no backup completed under the faults; taking one after healing")
		r := e.Rand(401)
		_ = retry(ctx, 2*time.Minute, func(ctx context.Context) error {
			if w.backup(ctx, e, e.RandomNode(r)) {
				return nil
			}
			return fmt.Errorf("backup failed")
		})
	}
	if _, err := os.Stat(w.file); err != nil {
		e.logf("no backup completed: nothing to restore")
		return
	}
	e.logf("stopping the cluster; restoring the backup into a fresh one")
	e.C.Stop(15 * time.Second)
	dir := filepath.Join(e.Dir, "restore")
	fresh := newCluster(e.C.bin, dir, len(e.C.Members()), e.C.rf, e.C.chaosBug, secretFrom(e.Seed, "restore-admin", "dakkio_a_"),
		secretFrom(e.Seed, "restore-operator", "dakkio_op_"), secretFrom(e.Seed, "restore-cluster", ""), e.logf)
	defer func() {
		fresh.Stop(15 * time.Second)
		if !e.Cfg.KeepData {
			_ = os.RemoveAll(filepath.Join(dir, "data"))
		}
	}()
	// The restored cluster's members live in the first namespaces (the
	// faulted cluster's members may have moved under the membership nemesis).
	for _, nd := range fresh.Members() {
		if err := fresh.Start(nd); err != nil {
			e.logf("restore cluster: %v", err)
			return
		}
	}
	if err := fresh.WaitConverged(ctx, 3*time.Minute); err != nil {
		e.logf("restore cluster never formed: %v", err)
		return
	}
	start := e.Rec.Now()
	f, err := os.Open(w.file)
	var sum *client.BackupSummary
	if err == nil {
		rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		sum, err = fresh.Client(fresh.Members()[0], "").Restore(rctx, f, client.RestoreOptions{})
		cancel()
		f.Close()
	}
	typ, status := classify(err)
	op := history.Op{Process: 500, F: "restore", Type: typ, Status: status, Error: errText(err), Start: start, End: e.Rec.Now()}
	if sum != nil {
		op.N = sum.Trailer.Points
	}
	e.Rec.Add(op)
	if err != nil {
		e.logf("restore failed: %v", err)
		return
	}
	// Read through every node of the fresh cluster, with the restored
	// admin key (the backup carries the keys, hashed).
	restored := &Env{C: fresh, Rec: e.Rec, Cfg: e.Cfg, Seed: e.Seed, OpTimeout: e.OpTimeout, Dir: e.Dir, logf: e.logf}
	for _, nd := range fresh.Members() {
		_ = retry(ctx, 90*time.Second, func(ctx context.Context) error {
			if w.set.readAs(ctx, restored, e.C.AdminKey, 1001, nd, "restored-read") {
				return nil
			}
			return fmt.Errorf("read through restored %s failed", nd.ID)
		})
	}
}
