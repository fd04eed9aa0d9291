package main

import (
	"io"
	"testing"
)

// TestMemoryLimitSources: --memory-limit takes sizes with binary units
// from the flag, DAKKIO_MEMORY_LIMIT or the config file, defaults to
// 256 MiB, and refuses what is not a size.
func TestMemoryLimitSources(t *testing.T) {
	toml := writeFile(t, "dakkio.toml", "memory-limit = \"1GiB\"\n")
	tomlNum := writeFile(t, "num.toml", "memory-limit = 1048576\n")
	cases := []struct {
		name string
		args []string
		env  []string
		want int64
	}{
		{"default", nil, nil, 352 << 20},
		{"flag MiB", []string{"--memory-limit", "384MiB"}, nil, 384 << 20},
		{"flag bytes", []string{"--memory-limit=1000"}, nil, 1000},
		{"flag off", []string{"--memory-limit", "0"}, nil, 0},
		{"env", nil, []string{"DAKKIO_MEMORY_LIMIT", "2GB"}, 2 << 30},
		{"file", []string{"--config", toml}, nil, 1 << 30},
		{"file number", []string{"--config", tomlNum}, nil, 1 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _, err := parseServe(c.args, envMap(c.env...), io.Discard)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if int64(o.memoryLimit) != c.want {
				t.Fatalf("memory limit = %d, want %d", o.memoryLimit, c.want)
			}
		})
	}
	for _, bad := range []string{"lots", "-1", "12TiB", "1.5GiB", "99999999999GiB"} {
		if _, _, err := parseServe([]string{"--memory-limit", bad}, envMap(), io.Discard); err == nil {
			t.Errorf("--memory-limit %q accepted", bad)
		}
	}
}
