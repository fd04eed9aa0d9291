package peerrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/dakkio/dakkio/internal/nodeauth"
)

// ErrNotAlive: the node called is not alive on gossip, so it has no address.
var ErrNotAlive = errors.New("node is not alive")

// StatusError is an answer other than 200.
type StatusError struct {
	Node   string
	Path   string
	Status int
	Body   string // trimmed, at most the call's answer limit
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("node %s answered %s %d: %s", e.Node, e.Path, e.Status, e.Body)
}

// Config configures a Client. Key, HTTP and Resolve are required.
type Config struct {
	// Key signs every call (nodeauth.DeriveKey(clusterKey, PurposeRPC)).
	Key []byte
	// HTTP sends the calls; its transport carries the cluster's TLS
	// client certificate when the cluster runs TLS.
	HTTP *http.Client
	// TLS: the nodes serve HTTPS.
	TLS bool
	// Resolve returns a node's HTTP address, "" when it is not alive.
	Resolve func(nodeID string) string
	// Now is the clock signatures are dated by. Default time.Now.
	Now func() time.Time
}

// Client makes signed calls to other nodes.
type Client struct {
	cfg Config
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Key == nil || cfg.HTTP == nil || cfg.Resolve == nil {
		return nil, errors.New("peerrpc: Key, HTTP and Resolve are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{cfg: cfg}, nil
}

// Answer limits: the most of an answer a call reads.
const (
	smallAnswer  = 4 << 10
	resultAnswer = 16 << 20
	pointsAnswer = 64 << 20
)

// post is the one way a call leaves: signed, posted to the node's path,
// its answer read up to limit and checked for 200. The answer's body and
// Raft index come back.
func (c *Client) post(ctx context.Context, nodeID, path string, body []byte, limit int64) (Answer, error) {
	addr := c.cfg.Resolve(nodeID)
	if nodeID == "" || addr == "" {
		return Answer{}, fmt.Errorf("cannot call %q: %w", nodeID, ErrNotAlive)
	}
	scheme := "http://"
	if c.cfg.TLS {
		scheme = "https://"
	}
	var reader io.Reader = http.NoBody
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, scheme+addr+path, reader)
	if err != nil {
		return Answer{}, fmt.Errorf("cannot call %s: %w", nodeID, err)
	}
	nodeauth.SignRequest(c.cfg.Key, req, body, c.cfg.Now())
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("cannot call %s: %w", nodeID, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return Answer{}, fmt.Errorf("cannot read the answer of %s: %w", nodeID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Answer{}, &StatusError{Node: nodeID, Path: path, Status: resp.StatusCode, Body: string(bytes.TrimSpace(out))}
	}
	a := Answer{Status: resp.StatusCode, Body: out}
	if h := resp.Header.Get(IndexHeader); h != "" {
		if a.Index, err = strconv.ParseUint(h, 10, 64); err != nil {
			return Answer{}, fmt.Errorf("bad %s from %s: %w", IndexHeader, nodeID, err)
		}
	}
	return a, nil
}

// Apply forwards an encoded metadata command (cluster.EncodeForward) to
// the leader, and returns its encoded result (for cluster.DecodeResult)
// and the Raft index of its entry (0 if none was given).
func (c *Client) Apply(ctx context.Context, leaderID string, cmd []byte) (result []byte, index uint64, err error) {
	a, err := c.post(ctx, leaderID, PathApply, cmd, resultAnswer)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot forward to the leader: %w", err)
	}
	return a.Body, a.Index, nil
}

// ReadIndex asks the leader for the commit index a follower must apply
// before it may say that something does not exist, or renew its key lease.
// from names the asking node: the leader keeps when it last served each
// node, to know when a lease it gave has run out.
func (c *Client) ReadIndex(ctx context.Context, leaderID, from string) (uint64, error) {
	body, err := json.Marshal(ReadIndexRequest{Node: from})
	if err != nil {
		return 0, err
	}
	a, err := c.post(ctx, leaderID, PathReadIndex, body, smallAnswer)
	if err != nil {
		return 0, fmt.Errorf("cannot ask for the read index: %w", err)
	}
	if a.Index == 0 {
		return 0, fmt.Errorf("leader %s answered no read index", leaderID)
	}
	return a.Index, nil
}

// Write sends a batch to a replica (body from EncodeWrite).
func (c *Client) Write(ctx context.Context, replicaID string, body []byte) error {
	if _, err := c.post(ctx, replicaID, PathWrite, body, smallAnswer); err != nil {
		return fmt.Errorf("cannot write to replica: %w", err)
	}
	return nil
}
