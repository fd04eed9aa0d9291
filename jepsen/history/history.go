// Package history records what the chaos suite's clients did: one Op per
// completed operation, written as JSON lines, and read back for checking.
package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// Outcome types, as Jepsen names them.
const (
	// OK: the operation took effect (the server acknowledged it).
	OK = "ok"
	// Fail: the operation certainly did not take effect (a definite refusal).
	Fail = "fail"
	// Info: the outcome is unknown (timeout, connection reset, 5xx): the
	// operation may or may not have taken effect, at any time from its start
	// on.
	Info = "info"
)

// NemesisProcess is the Process of the nemesis's own entries.
const NemesisProcess = -1

// Op is one completed operation. Start and End are nanoseconds since the
// start of the run, on the harness's monotonic clock.
type Op struct {
	Index   int    `json:"index"`
	Process int    `json:"process"`
	Type    string `json:"type"`
	// F names the operation: add/read/final-read (set), create/write/read/
	// delete (register), revoke/use (revocation), call/usage (counter),
	// partition/kill/pause/heal (nemesis).
	F    string `json:"f"`
	Key  string `json:"key,omitempty"`
	Node string `json:"node,omitempty"`
	// Value is the operation's argument or result (the description written or
	// read, a usage figure).
	Value string `json:"value,omitempty"`
	// Found tells whether a read found the register (false: 404).
	Found bool `json:"found,omitempty"`
	// Ints are point ids added or read.
	Ints   []int64 `json:"ints,omitempty"`
	N      int64   `json:"n,omitempty"`
	Status int     `json:"status,omitempty"`
	Error  string  `json:"error,omitempty"`
	Start  int64   `json:"start"`
	End    int64   `json:"end"`
}

// Latency is End - Start.
func (o Op) Latency() time.Duration { return time.Duration(o.End - o.Start) }

// Recorder collects ops from concurrent clients and streams them to a file.
type Recorder struct {
	t0  time.Time
	mu  sync.Mutex
	ops []Op
	w   *bufio.Writer
	f   *os.File
	err error
}

// NewRecorder returns a recorder writing to path (created or truncated);
// an empty path keeps the ops in memory only.
func NewRecorder(path string) (*Recorder, error) {
	r := &Recorder{t0: time.Now()}
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("cannot create history %q: %w", path, err)
		}
		r.f, r.w = f, bufio.NewWriter(f)
	}
	return r, nil
}

// Now is the time since the recorder started, in nanoseconds.
func (r *Recorder) Now() int64 { return int64(time.Since(r.t0)) }

// Add records a completed op, numbering it.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	op.Index = len(r.ops)
	r.ops = append(r.ops, op)
	if r.w != nil && r.err == nil {
		b, err := json.Marshal(op)
		if err == nil {
			b = append(b, '\n')
			_, err = r.w.Write(b)
		}
		r.err = err
	}
}

// Ops returns a copy of the ops recorded so far, in recording order.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// Close flushes and closes the file.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return r.err
	}
	if r.err == nil {
		r.err = r.w.Flush()
	}
	if err := r.f.Close(); r.err == nil {
		r.err = err
	}
	r.f = nil
	return r.err
}

// Read decodes a history written by a Recorder.
func Read(rd io.Reader) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			return nil, fmt.Errorf("history line %d: %w", line, err)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Index < ops[j].Index })
	return ops, nil
}

// ReadFile reads the history at path.
func ReadFile(path string) ([]Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open history %q: %w", path, err)
	}
	defer f.Close()
	return Read(f)
}
