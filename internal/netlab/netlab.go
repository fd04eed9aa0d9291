// Package netlab builds a small network for fault tests on one machine: a
// bridge in the root namespace and one network namespace per host, each
// joined to the bridge by a veth pair and given its own address, so that a
// link between two hosts can be cut for real with iptables inside their
// namespaces while the test process (root namespace) still reaches all of
// them through the bridge. It needs root, iproute2 and iptables.
package netlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Lab is one network: hosts 1..n at <subnet>.(10+i), the bridge at <subnet>.1.
type Lab struct {
	id     string // short random prefix of every name, so labs never collide
	subnet string // first three octets, e.g. "10.78.3"
	hosts  int
}

// Available reports why labs cannot be built here, or nil.
func Available() error {
	var missing []string
	for _, t := range []string{"ip", "iptables", "iptables-restore"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("netlab: missing %s (apt-get install iproute2 iptables)", strings.Join(missing, ", "))
	}
	if syscall.Geteuid() != 0 {
		return errors.New("netlab: network namespaces and iptables need root")
	}
	return nil
}

// New builds a lab of hosts hosts on subnet (three octets, a /24 nothing
// else on the machine uses), named at random. Close removes it.
func New(ctx context.Context, subnet string, hosts int) (*Lab, error) {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	l := Named("nl"+hex.EncodeToString(b[:]), subnet, hosts)
	if err := l.Create(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Named returns a handle on the lab called name (at most 10 characters:
// interface names derive from it) without building anything: Create builds
// it, Close removes it, also what a crashed run left under that name.
func Named(name, subnet string, hosts int) *Lab {
	return &Lab{id: name, subnet: subnet, hosts: hosts}
}

// Create builds the bridge and the hosts' namespaces.
func (l *Lab) Create(ctx context.Context) error {
	if err := Available(); err != nil {
		return err
	}
	if l.hosts < 1 || l.hosts > 200 || len(l.id) > 10 {
		return fmt.Errorf("netlab: lab %q of %d hosts", l.id, l.hosts)
	}
	steps := [][]string{
		{"ip", "link", "add", l.bridge(), "type", "bridge"},
		{"ip", "addr", "add", l.BridgeIP() + "/24", "dev", l.bridge()},
		{"ip", "link", "set", l.bridge(), "up"},
		// Bridged packets cross the root namespace's FORWARD chain, whose
		// policy Docker sets to DROP.
		append([]string{"iptables", "-I"}, l.forwardRule()...),
	}
	for i := 1; i <= l.hosts; i++ {
		ns, veth := l.Namespace(i), l.veth(i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p"},
			[]string{"ip", "link", "set", veth + "p", "netns", ns},
			[]string{"ip", "link", "set", veth, "master", l.bridge()},
			[]string{"ip", "link", "set", veth, "up"},
			[]string{"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"},
			[]string{"ip", "netns", "exec", ns, "ip", "link", "set", veth + "p", "name", "eth0"},
			[]string{"ip", "netns", "exec", ns, "ip", "addr", "add", l.HostIP(i) + "/24", "dev", "eth0"},
			[]string{"ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up"},
			[]string{"ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", l.BridgeIP()},
		)
	}
	for _, s := range steps {
		if err := run(ctx, nil, s...); err != nil {
			l.Close()
			return err
		}
	}
	return nil
}

func (l *Lab) bridge() string { return l.id + "br" }

// Bridge is the name of the lab's bridge (the chaos suite's slow links
// queue the packets it forwards).
func (l *Lab) Bridge() string    { return l.bridge() }
func (l *Lab) veth(i int) string { return l.id + strconv.Itoa(i) }
func (l *Lab) forwardRule() []string {
	return []string{"FORWARD", "-i", l.bridge(), "-o", l.bridge(), "-j", "ACCEPT"}
}

// Namespace is host i's network namespace.
func (l *Lab) Namespace(i int) string { return l.id + "-h" + strconv.Itoa(i) }

// HostIP is host i's address.
func (l *Lab) HostIP(i int) string { return l.subnet + "." + strconv.Itoa(10+i) }

// BridgeIP is the address the root namespace has on the lab's network.
func (l *Lab) BridgeIP() string { return l.subnet + ".1" }

// Command returns a command that runs name inside host i's namespace. `ip
// netns exec` execs it, so the command's process is name's.
func (l *Lab) Command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.Namespace(i), name}, args...)...)
}

// Cut makes host i drop every packet from and to the given hosts,
// replacing its earlier cuts; no peers heals it.
func (l *Lab) Cut(ctx context.Context, i int, peers ...int) error {
	var b strings.Builder
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for _, p := range peers {
		fmt.Fprintf(&b, "-A INPUT -s %s/32 -j DROP\n-A OUTPUT -d %s/32 -j DROP\n", l.HostIP(p), l.HostIP(p))
	}
	b.WriteString("COMMIT\n")
	return run(ctx, []byte(b.String()), "ip", "netns", "exec", l.Namespace(i), "iptables-restore")
}

// Isolate cuts host i from every other host, both ways.
func (l *Lab) Isolate(ctx context.Context, i int) error {
	var others []int
	for p := 1; p <= l.hosts; p++ {
		if p != i {
			others = append(others, p)
			if err := l.Cut(ctx, p, i); err != nil {
				return err
			}
		}
	}
	return l.Cut(ctx, i, others...)
}

// Heal removes every cut.
func (l *Lab) Heal(ctx context.Context) error {
	var errs []error
	for i := 1; i <= l.hosts; i++ {
		errs = append(errs, l.Cut(ctx, i))
	}
	return errors.Join(errs...)
}

// Close kills what still runs in the namespaces and removes the lab; parts
// that do not exist are skipped.
func (l *Lab) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i := 1; i <= l.hosts; i++ {
		out, err := output(ctx, "ip", "netns", "pids", l.Namespace(i))
		if err == nil {
			for _, f := range strings.Fields(out) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGCONT)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if err := run(ctx, nil, "ip", "netns", "del", l.Namespace(i)); err != nil && !strings.Contains(err.Error(), "No such") {
			errs = append(errs, err)
		}
		// The kernel frees a deleted namespace, and the veth end in it,
		// when it gets round to it (seconds on a loaded machine): delete
		// our end now, which removes the pair, so that a new lab of the
		// same name can be made at once. When the kernel was quicker, the
		// pair is gone: "Cannot find device" if it was gone before the
		// call, "No such device" if it went during it.
		if err := run(ctx, nil, "ip", "link", "del", l.veth(i)); err != nil && !gone(err) {
			errs = append(errs, err)
		}
	}
	if err := run(ctx, nil, "ip", "link", "del", l.bridge()); err != nil && !gone(err) {
		errs = append(errs, err)
	}
	_ = run(ctx, nil, append([]string{"iptables", "-D"}, l.forwardRule()...)...)
	return errors.Join(errs...)
}

// gone tells whether err is ip's answer for a link that does not exist.
func gone(err error) bool {
	return strings.Contains(err.Error(), "Cannot find device") || strings.Contains(err.Error(), "No such device")
}

func run(ctx context.Context, stdin []byte, argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func output(ctx context.Context, argv ...string) (string, error) {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	return string(out), err
}
