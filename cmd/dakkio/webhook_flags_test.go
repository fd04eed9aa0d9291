package main

import (
	"io"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// TestServeWebhookCIDRFlags: the webhook egress ranges come from the
// command line, the environment or the config file, as lists.
func TestServeWebhookCIDRFlags(t *testing.T) {
	file := writeFile(t, "dakkio.toml", `webhook-deny-cidrs = ["10.0.0.0/8", "192.168.0.0/16"]`)
	cases := []struct {
		name        string
		args, env   []string
		deny, allow []string
	}{
		{"flags", []string{"--webhook-deny-cidrs", "10.0.0.0/8, 192.0.2.1", "--webhook-allow-cidrs", "127.0.0.1/32"}, nil,
			[]string{"10.0.0.0/8", "192.0.2.1"}, []string{"127.0.0.1/32"}},
		{"environment", nil, []string{"DAKKIO_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8,::1/128"}, nil, []string{"127.0.0.0/8", "::1/128"}},
		{"config file", []string{"--config", file}, nil, []string{"10.0.0.0/8", "192.168.0.0/16"}, nil},
		{"default", nil, nil, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _, err := parseServe(c.args, envMap(c.env...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.cfg.WebhookDenyCIDRs, c.deny) || !reflect.DeepEqual(o.cfg.WebhookAllowCIDRs, c.allow) {
				t.Errorf("deny %q allow %q, want %q %q", o.cfg.WebhookDenyCIDRs, o.cfg.WebhookAllowCIDRs, c.deny, c.allow)
			}
		})
	}
}

// TestServeRefusesBadWebhookCIDR: the binary stops at once on a range it
// cannot parse, naming the flag.
func TestServeRefusesBadWebhookCIDR(t *testing.T) {
	bin := dakkioBinary(t)
	cmd := exec.CommandContext(t.Context(), bin, "serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--raft-addr", "127.0.0.1:0", "--webhook-allow-cidrs", "127.0.0.1/32,localhost")
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("exit code %d (%v), want 1; output %s", code, err, out)
	}
	for _, w := range []string{"webhook-allow-cidrs", "invalid CIDR range", "localhost"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("output does not mention %q: %s", w, out)
		}
	}
}
