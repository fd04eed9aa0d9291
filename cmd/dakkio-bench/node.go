package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nodeProc is a `dakkio serve` child process.
type nodeProc struct {
	binary   string
	dataDir  string
	httpAddr string
	raftAddr string
	adminKey string
	logPath  string
	extra    []string // more serve flags

	// In a cluster: the node's name, gossip address, the shared key, the
	// servers to wait for and the gossip addresses to join.
	nodeID     string
	gossipAddr string
	clusterKey string
	expect     int
	join       []string

	cmd    *exec.Cmd
	logf   *os.File
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
	cpu    time.Duration // the CPU time it used, once exited is closed
	wrote  int64         // bytes it wrote to storage (-1: unknown), once exited is closed
}

// start launches the node; it appends its output to logPath.
func (p *nodeProc) start() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open node log: %w", err)
	}
	args := []string{"serve", "--data-dir", p.dataDir, "--http-addr", p.httpAddr, "--raft-addr", p.raftAddr}
	if p.clusterKey != "" {
		args = append(args, "--node-id", p.nodeID, "--gossip-addr", p.gossipAddr, "--cluster-key", p.clusterKey,
			"--bootstrap-expect", strconv.Itoa(p.expect), "--replication-factor", strconv.Itoa(p.expect))
		if len(p.join) > 0 {
			args = append(args, "--join", strings.Join(p.join, ","))
		}
	}
	args = append(args, p.extra...)
	cmd := exec.Command(p.binary, args...)
	cmd.Env = append(os.Environ(), "DAKKIO_INITIAL_ADMIN_KEY="+p.adminKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("cannot start %s: %w", p.binary, err)
	}
	p.cmd, p.logf, p.exited = cmd, logf, make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		if ps := cmd.ProcessState; ps != nil {
			p.cpu = ps.UserTime() + ps.SystemTime()
			p.wrote = blocksWritten(ps)
		}
		logf.Close()
		close(p.exited)
	}()
	return nil
}

func (p *nodeProc) baseURL() string { return "http://" + p.httpAddr }

// waitReady polls GET /ready until it answers 200.
func (p *nodeProc) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL()+"/ready", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.exited:
			return fmt.Errorf("node exited before it was ready (%v); its log:\n%s", p.err, p.logTail(30))
		case <-ctx.Done():
			return fmt.Errorf("node not ready after %v (last: %s); its log:\n%s", timeout, last, p.logTail(30))
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits for the exit; after timeout it kills. It
// returns how long the node took to stop.
func (p *nodeProc) stop(timeout time.Duration) (time.Duration, error) {
	if p.cmd == nil {
		return 0, nil
	}
	t0 := time.Now()
	select {
	case <-p.exited:
		return 0, p.exitErr()
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, fmt.Errorf("cannot signal node: %w", err)
	}
	select {
	case <-p.exited:
		return time.Since(t0), p.exitErr()
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return time.Since(t0), fmt.Errorf("node did not stop within %v of SIGTERM; killed", timeout)
	}
}

func (p *nodeProc) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("node exited: %w; its log:\n%s", p.err, p.logTail(30))
	}
	return nil
}

// logTail returns the last n lines of the node's log.
func (p *nodeProc) logTail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, "  "+sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// freeAddr returns a 127.0.0.1 address with a port nothing listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// diskUsage sums the sizes of the files under dir: the .sst files, and all
// of them as allocated on disk.
func diskUsage(dir string) (sst, all int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		all += allocated(info)
		if strings.HasSuffix(d.Name(), ".sst") {
			sst += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("cannot measure %q: %w", dir, err)
	}
	return sst, all, nil
}
