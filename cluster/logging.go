package cluster

import (
	"bytes"
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogWriter turns the lines hclog formats into slog records, so raft's logs
// land in the node's one structured stream with a component attribute.
type hclogWriter struct {
	log *slog.Logger
}

func (w hclogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	switch {
	case bytes.Contains(line, []byte("[ERROR]")):
		level = slog.LevelError
	case bytes.Contains(line, []byte("[WARN]")):
		level = slog.LevelWarn
	case bytes.Contains(line, []byte("[DEBUG]")), bytes.Contains(line, []byte("[TRACE]")):
		level = slog.LevelDebug
	}
	// Drop hclog's own timestamp and level: slog adds both.
	if i := bytes.IndexByte(line, ']'); i >= 0 && i+1 < len(line) {
		line = bytes.TrimSpace(line[i+1:])
	}
	w.log.Log(context.Background(), level, string(line))
	return len(p), nil
}

func newHCLogger(name string, log *slog.Logger) hclog.Logger {
	level := hclog.Info
	if log.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:            name,
		Level:           level,
		Output:          hclogWriter{log: log.With("component", name)},
		DisableTime:     true,
		IncludeLocation: false,
	})
}
