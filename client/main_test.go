package client_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/internal/testnode"
	"github.com/dakkio/dakkio/node"
)

// The examples run against a real node that TestMain starts: nodeURL,
// adminKey and operatorToken are its address and credentials, as a user
// would read them from their configuration.
var nodeURL, adminKey, operatorToken string

func TestMain(m *testing.M) {
	os.Exit(runWithNode(m))
}

func runWithNode(m *testing.M) int {
	dir, err := os.MkdirTemp("", "dakkio-client-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfg := node.Config{
		NodeID: "node1", DataDir: dir, HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		InitialAdminKey: secret.New(secret.AdminPrefix), OperatorToken: secret.New(secret.OperatorPrefix),
		FastRaft: true, Logger: testnode.Logger(),
	}
	n, err := node.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot create the examples' node:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		_ = n.Close()
		fmt.Fprintln(os.Stderr, "cannot start the examples' node:", err)
		return 1
	}
	defer n.Close()
	nodeURL, adminKey, operatorToken = n.URL(), cfg.InitialAdminKey, cfg.OperatorToken
	return m.Run()
}
