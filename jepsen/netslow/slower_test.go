package netslow

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/netlab"
)

// TestMain lets the test binary serve as the helper it runs inside a
// host's namespace: NETSLOW_HELPER=listen accepts connections on the
// address in NETSLOW_ADDR; dial connects to it once and prints how long
// that took (or the error).
func TestMain(m *testing.M) {
	switch os.Getenv("NETSLOW_HELPER") {
	case "listen":
		ln, err := net.Listen("tcp", os.Getenv("NETSLOW_ADDR"))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			c.Close()
		}
	case "dial":
		timeout, _ := time.ParseDuration(os.Getenv("NETSLOW_TIMEOUT"))
		start := time.Now()
		c, err := net.DialTimeout("tcp", os.Getenv("NETSLOW_ADDR"), timeout)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		c.Close()
		fmt.Println(time.Since(start).Nanoseconds())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// connectTime is how long a TCP connect from host 1 to addr takes.
func connectTime(t *testing.T, lab *netlab.Lab, addr string, timeout time.Duration) (time.Duration, error) {
	t.Helper()
	cmd := lab.Command(1, os.Args[0])
	cmd.Env = append(os.Environ(), "NETSLOW_HELPER=dial", "NETSLOW_ADDR="+addr, "NETSLOW_TIMEOUT="+timeout.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dial helper: %v", err)
	}
	s := strings.TrimSpace(string(out))
	if strings.HasPrefix(s, "error:") {
		return 0, errors.New(s)
	}
	ns, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("dial helper said %q", s)
	}
	return time.Duration(ns), nil
}

// TestSlowerDelaysAndDropsForwardedPackets: two hosts on a bridge; a TCP
// connect from one to the other crosses the bridge twice (SYN, SYN-ACK).
// With each host's link delayed 150 ms it takes at least 300 ms; with one
// link losing every packet it cannot connect; cleared, it is fast again.
func TestSlowerDelaysAndDropsForwardedPackets(t *testing.T) {
	if err := netlab.Available(); err != nil {
		if os.Getenv("DAKKIO_SKIP_NETNS") == "1" {
			t.Skipf("DAKKIO_SKIP_NETNS=1: %v", err)
		}
		t.Fatalf("%v (run as root with iproute2 and iptables, or set DAKKIO_SKIP_NETNS=1 to skip)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lab, err := netlab.New(ctx, "10.78.3", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lab.Close() })
	addr := lab.HostIP(2) + ":7801"
	srv := lab.Command(2, os.Args[0])
	srv.Env = append(os.Environ(), "NETSLOW_HELPER=listen", "NETSLOW_ADDR="+addr)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.HasPrefix(line, "listening") {
		t.Fatalf("listen helper: %q %v", line, err)
	}
	fast, err := connectTime(t, lab, addr, 10*time.Second)
	if err != nil {
		t.Fatalf("connect before slowing: %v", err)
	}

	s, err := New(Config{Bridge: lab.Bridge(), Queue: 7799, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h1, h2 := netip.MustParseAddr(lab.HostIP(1)), netip.MustParseAddr(lab.HostIP(2))
	if err := s.Set(ctx, map[netip.Addr]Link{h1: {Delay: 150 * time.Millisecond}, h2: {Delay: 150 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	slow, err := connectTime(t, lab, addr, 20*time.Second)
	if err != nil {
		t.Fatalf("connect over slow links: %v", err)
	}
	if slow < 300*time.Millisecond {
		t.Errorf("connect over two links delayed 150 ms took %s (before: %s), want ≥ 300 ms", slow, fast)
	}
	if st := s.Stats(); st.Delayed < 2 {
		t.Errorf("stats %+v: want at least the SYN and SYN-ACK delayed", st)
	}

	if err := s.Set(ctx, map[netip.Addr]Link{h1: {Loss: 1}}); err != nil {
		t.Fatal(err)
	}
	if d, err := connectTime(t, lab, addr, 2*time.Second); err == nil {
		t.Errorf("connect succeeded in %s though host 1's link loses every packet", d)
	}

	if err := s.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err := connectTime(t, lab, addr, 10*time.Second); err != nil || d > 250*time.Millisecond {
		t.Errorf("after Clear: connect took %s, err %v; want fast again", d, err)
	}
}
