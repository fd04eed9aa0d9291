package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/internal/secret"
)

// clusterSize is the nodes of the cluster phase; with the replication
// factor as large, each of them stores every point.
const clusterSize = 3

// clusterReport is the cluster's phase.
type clusterReport struct {
	w            *workload
	connsPerNode []int
	ingest       ingestResult
	benchCPU     time.Duration // this process's, during the ingest
	nodeCPU      time.Duration // the nodes' together, from start to stop
	settle       time.Duration // until every node counted every point
}

// runCluster starts clusterSize nodes on 127.0.0.1 in a fresh directory,
// ingests the last --cluster-points of the workload with the connections
// spread over the nodes, and waits until every node counts every point.
func (b *bench) runCluster(ctx context.Context) (*clusterReport, error) {
	cfg := b.cfg
	dir, err := os.MkdirTemp(cfg.tmpDir, "dakkio-bench-cluster-")
	if err != nil {
		return nil, fmt.Errorf("cannot make the cluster's directory: %w", err)
	}
	nodes, err := clusterNodes(cfg.binary, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			if _, err := stopNodes(nodes); err != nil {
				b.logf("stopping the cluster: %v", err)
			}
		}
		if cfg.keep {
			b.logf("kept %s (node logs: %s/node*.log)", dir, dir)
		} else if err := os.RemoveAll(dir); err != nil {
			b.logf("cannot remove %s: %v", dir, err)
		}
	}()
	b.logf("starting a %d-node cluster of %s in %s (HTTP %s)", len(nodes), cfg.binary, dir, strings.Join(httpAddrs(nodes), ", "))
	for _, n := range nodes {
		if err := n.start(); err != nil {
			return nil, err
		}
	}
	for _, n := range nodes {
		if err := n.waitReady(ctx, startTimeout); err != nil {
			return nil, fmt.Errorf("%s: %w", n.nodeID, err)
		}
	}

	targets := make([]target, len(nodes))
	apis := make([]*client.Client, len(nodes))
	for i, n := range nodes {
		if targets[i], err = parseTarget(n.baseURL()); err != nil {
			return nil, err
		}
		apis[i] = client.New(n.baseURL(), client.WithAPIKey(n.adminKey), client.WithHTTPClient(&http.Client{Timeout: time.Minute}))
	}
	points := cfg.clusterPoints
	if cfg.maxPoints > 0 {
		points = min(points, cfg.maxPoints)
	}
	w, bucketID, writeKey, _, err := b.setup(ctx, apis[0], points)
	if err != nil {
		return nil, err
	}
	if err := waitKnown(ctx, apis, bucketID, len(w.sources)); err != nil {
		return nil, err
	}
	r := &clusterReport{w: w, connsPerNode: make([]int, len(nodes))}
	for i := range cfg.conns {
		r.connsPerNode[i%len(nodes)]++
	}
	b.logf("ingesting %s points (%d sources × %s ticks) into bucket %s through %d nodes", count(w.points()), len(w.sources), count(w.ticks), bucketID, len(nodes))
	g := newGenerator(w, bucketID, cfg.seed)
	cpu0 := cpuTime()
	path := "/api/data/batch"
	if cfg.consistency != "" {
		path += "?consistency=" + cfg.consistency
	}
	if r.ingest, err = ingest(ctx, targets, path, writeKey, g, cfg.batch, cfg.conns, b.log); err != nil {
		return nil, err
	}
	r.benchCPU = cpuTime() - cpu0
	b.logf("ingested in %v; waiting for every node's dataPointCount to reach %s", r.ingest.elapsed.Round(time.Millisecond), count(r.ingest.points))
	t0 := time.Now()
	for i, api := range apis {
		if _, err := waitSettled(ctx, api, bucketID, r.ingest.points, cfg.settleTimeout); err != nil {
			return nil, fmt.Errorf("%s: %w", nodes[i].nodeID, err)
		}
	}
	r.settle = time.Since(t0)

	b.logf("stopping the cluster")
	stopped = true
	if r.nodeCPU, err = stopNodes(nodes); err != nil {
		return nil, err
	}
	return r, nil
}

// clusterNodes lays out the nodes on free ports under dir: node1 first,
// the others joining it, all waiting for each other to bootstrap.
func clusterNodes(binary, dir string) ([]*nodeProc, error) {
	key, adminKey := secret.New("k"), secret.New(secret.AdminPrefix)
	var nodes []*nodeProc
	for i := range clusterSize {
		id := "node" + strconv.Itoa(i+1)
		n := &nodeProc{
			binary: binary, dataDir: filepath.Join(dir, id), adminKey: adminKey, logPath: filepath.Join(dir, id+".log"),
			nodeID: id, clusterKey: key, expect: clusterSize,
		}
		for _, addr := range []*string{&n.httpAddr, &n.raftAddr, &n.gossipAddr} {
			var err error
			if *addr, err = freeAddr(); err != nil {
				return nil, err
			}
		}
		if i > 0 {
			n.join = []string{nodes[0].gossipAddr}
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func httpAddrs(nodes []*nodeProc) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.httpAddr)
	}
	return out
}

// waitKnown polls every node until it lists the bucket's sources: then the
// bucket and its keys, committed before them, are known there too.
func waitKnown(ctx context.Context, apis []*client.Client, bucketID string, sources int) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i, api := range apis {
		for {
			list, err := api.ListSources(ctx, bucketID, client.Page{Limit: 1000})
			if err == nil && len(list.Data) == sources {
				break
			}
			select {
			case <-ctx.Done():
				if err == nil {
					err = fmt.Errorf("%d of %d sources", len(list.Data), sources)
				}
				return fmt.Errorf("node %d does not know bucket %s: %w", i+1, bucketID, err)
			case <-tick.C:
			}
		}
	}
	return nil
}

// stopNodes stops the nodes together and returns the CPU time they used.
func stopNodes(nodes []*nodeProc) (time.Duration, error) {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			if _, err := n.stop(stopTimeout); err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.nodeID, err)
			}
		})
	}
	wg.Wait()
	var cpu time.Duration
	for _, n := range nodes {
		cpu += n.cpu
	}
	return cpu, errors.Join(errs...)
}

// joinInts writes ns separated by sep.
func joinInts(ns []int, sep string) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}
