package egress_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"

	"github.com/dakkio/dakkio/internal/egress"
)

func prefixes(t *testing.T, items ...string) []netip.Prefix {
	t.Helper()
	p, err := egress.ParsePrefixes(items)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicyCheck(t *testing.T) {
	own := func() []uint16 { return []uint16{8080, 8300} }
	local := func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("10.1.2.3")} }
	cases := []struct {
		name    string
		cfg     egress.Config
		addr    string
		blocked bool
	}{
		{"public v4", egress.Config{}, "93.184.216.34:443", false},
		{"public v6", egress.Config{}, "[2606:2800:220:1::1]:443", false},
		{"private v4 allowed by default", egress.Config{}, "10.0.0.5:80", false},
		{"loopback", egress.Config{}, "127.0.0.1:80", true},
		{"loopback anywhere in 127/8", egress.Config{}, "127.10.20.30:80", true},
		{"loopback v6", egress.Config{}, "[::1]:80", true},
		{"metadata service", egress.Config{}, "169.254.169.254:80", true},
		{"link-local v6", egress.Config{}, "[fe80::1]:80", true},
		{"link-local v6 with zone", egress.Config{}, "[fe80::1%eth0]:80", true},
		{"unspecified v4", egress.Config{}, "0.0.0.0:80", true},
		{"this-network v4", egress.Config{}, "0.1.2.3:80", true},
		{"unspecified v6", egress.Config{}, "[::]:80", true},
		{"v4-mapped loopback", egress.Config{}, "[::ffff:127.0.0.1]:80", true},
		{"v4-mapped metadata", egress.Config{}, "[::ffff:169.254.169.254]:80", true},
		{"AWS IPv6 metadata", egress.Config{}, "[fd00:ec2::254]:80", true},
		{"Alibaba metadata", egress.Config{}, "100.100.100.200:80", true},
		{"NAT64 loopback", egress.Config{}, "[64:ff9b::7f00:1]:80", true},
		{"NAT64 metadata", egress.Config{}, "[64:ff9b::a9fe:a9fe]:80", true},
		{"NAT64 elsewhere", egress.Config{}, "[64:ff9b::5db8:d822]:80", false},
		{"6to4 loopback", egress.Config{}, "[2002:7f00:1::1]:80", true},
		{"6to4 metadata", egress.Config{}, "[2002:a9fe:a9fe::1]:80", true},
		{"added deny", egress.Config{Deny: prefixes(t, "10.0.0.0/8")}, "10.0.0.5:80", true},
		{"added deny single address", egress.Config{Deny: prefixes(t, "192.0.2.7")}, "192.0.2.7:80", true},
		{"added deny as v4-mapped", egress.Config{Deny: prefixes(t, "::ffff:10.0.0.0/104")}, "10.0.0.5:80", true},
		{"allow lifts default", egress.Config{Allow: prefixes(t, "127.0.0.0/8")}, "127.0.0.1:80", false},
		{"allow lifts only its range", egress.Config{Allow: prefixes(t, "127.0.0.2/32")}, "127.0.0.1:80", true},
		{"allow one address", egress.Config{Allow: prefixes(t, "127.0.0.2")}, "127.0.0.2:80", false},
		{"more specific deny wins", egress.Config{Allow: prefixes(t, "127.0.0.0/8"), Deny: prefixes(t, "127.0.0.2/32")}, "127.0.0.2:80", true},
		{"more specific allow wins", egress.Config{Allow: prefixes(t, "10.9.0.0/16"), Deny: prefixes(t, "10.0.0.0/8")}, "10.9.0.1:80", false},
		{"allow wins a tie", egress.Config{Allow: prefixes(t, "10.0.0.0/8"), Deny: prefixes(t, "10.0.0.0/8")}, "10.0.0.1:80", false},
		{"own port on loopback", egress.Config{OwnPorts: own}, "127.0.0.1:8080", true},
		{"own port on loopback even if allowed", egress.Config{OwnPorts: own, Allow: prefixes(t, "127.0.0.0/8")}, "127.0.0.1:8300", true},
		{"own port on another loopback address", egress.Config{OwnPorts: own, Allow: prefixes(t, "127.0.0.0/8")}, "127.0.0.2:8080", true},
		{"own port on a local interface", egress.Config{OwnPorts: own, LocalAddrs: local}, "10.1.2.3:8080", true},
		{"own port on a v4-mapped local interface", egress.Config{OwnPorts: own, LocalAddrs: local}, "[::ffff:10.1.2.3]:8080", true},
		{"other port on a local interface", egress.Config{OwnPorts: own, LocalAddrs: local}, "10.1.2.3:9090", false},
		{"own port number on another machine", egress.Config{OwnPorts: own, LocalAddrs: local}, "10.1.2.4:8080", false},
		{"other port on allowed loopback", egress.Config{OwnPorts: own, Allow: prefixes(t, "127.0.0.0/8")}, "127.0.0.1:9090", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := egress.New(c.cfg).Check(netip.MustParseAddrPort(c.addr))
			if got := errors.Is(err, egress.ErrBlocked); got != c.blocked {
				t.Fatalf("Check(%s) = %v, want blocked %v", c.addr, err, c.blocked)
			}
			if err != nil && !c.blocked {
				t.Fatalf("Check(%s) = %v, not ErrBlocked", c.addr, err)
			}
		})
	}
}

func TestPolicyCheckHost(t *testing.T) {
	p := egress.New(egress.Config{})
	cases := []struct {
		host    string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"[::1]", true},
		{"::1", true},
		{"169.254.169.254", true},
		{"example.com", false}, // a name is checked when dialled
		{"localhost", false},
		{"93.184.216.34", false},
	}
	for _, c := range cases {
		t.Run(c.host, func(t *testing.T) {
			if got := errors.Is(p.CheckHost(c.host, 80), egress.ErrBlocked); got != c.blocked {
				t.Fatalf("CheckHost(%q) blocked = %v, want %v", c.host, got, c.blocked)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	cases := []struct {
		in   string
		want string
		bad  bool
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: " 127.0.0.1 ", want: "127.0.0.1/32"},
		{in: "::1", want: "::1/128"},
		{in: "fd00::/8", want: "fd00::/8"},
		{in: "10.0.0.0/33", bad: true},
		{in: "example.com", bad: true},
		{in: "fe80::1%eth0", bad: true},
		{in: "", bad: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := egress.ParsePrefixes([]string{c.in})
			if c.bad {
				if err == nil {
					t.Fatalf("ParsePrefixes(%q) = %v, want an error", c.in, got)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0].String() != c.want {
				t.Fatalf("ParsePrefixes(%q) = %v, %v; want %s", c.in, got, err, c.want)
			}
		})
	}
}

// The transport refuses at connect time an address reached through a name,
// which a check of the URL alone would let through.
func TestTransportChecksResolvedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	named := "http://localhost:" + port + "/"

	denied := &http.Client{Transport: egress.New(egress.Config{}).Transport()}
	_, err := get(t.Context(), denied, named)
	if !errors.Is(err, egress.ErrBlocked) {
		t.Fatalf("GET %s with the default policy: %v, want ErrBlocked", named, err)
	}

	allowed := &http.Client{Transport: egress.New(egress.Config{Allow: prefixes(t, "127.0.0.0/8", "::1/128")}).Transport()}
	if code, err := get(t.Context(), allowed, named); err != nil || code != http.StatusOK {
		t.Fatalf("GET %s with loopback allowed: %d, %v", named, code, err)
	}

	p, _ := strconv.Atoi(port)
	own := &http.Client{Transport: egress.New(egress.Config{
		Allow: prefixes(t, "127.0.0.0/8", "::1/128"), OwnPorts: func() []uint16 { return []uint16{uint16(p)} },
	}).Transport()}
	if _, err := get(t.Context(), own, named); !errors.Is(err, egress.ErrBlocked) {
		t.Fatalf("GET %s on the node's own port: %v, want ErrBlocked", named, err)
	}
}

func get(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
