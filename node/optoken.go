package node

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dakkio/dakkio/internal/secret"
)

// The operator token is chosen at the cluster's first start (Config.
// OperatorToken, else random and written to OperatorTokenFile) and
// changed only by rotation through Raft. What a node is given at a later
// start is not the token; these say so rather than leave an operator
// believing it is.

// checkOperatorToken runs once the node has caught up with the cluster:
// it warns when the configured token or the token file is not the
// cluster's operator token.
func (n *Node) checkOperatorToken() {
	if n.cfg.OperatorToken != "" && !n.state.CheckOperatorToken(secret.Hash(n.cfg.OperatorToken)) {
		n.log.Warn("DAKKIO_OPERATOR_TOKEN is ignored: it counts only at the cluster's first start, and the cluster's operator token differs (rotated since, or set by another node); use the current token, or rotate it with 'dakkio operator rotate-token'")
	}
	path := filepath.Join(n.cfg.DataDir, OperatorTokenFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if tok := strings.TrimSpace(string(b)); tok != "" && !n.state.CheckOperatorToken(secret.Hash(tok)) {
		n.log.Warn("the operator token file holds a token the cluster no longer accepts (it was rotated); delete the file", "file", path)
	}
}

// dropStaleTokenFile removes this node's operator token file after it
// served a rotation: the file held the first token, now refused, and the
// new one is shown to the caller only.
func (n *Node) dropStaleTokenFile() {
	path := filepath.Join(n.cfg.DataDir, OperatorTokenFile)
	switch err := os.Remove(path); {
	case err == nil:
		n.log.Info("operator token rotated; removed the file holding the old one", "file", path)
	case !errors.Is(err, fs.ErrNotExist):
		n.log.Warn("operator token rotated, but the file holding the old one cannot be removed; delete it", "file", path, "err", err)
	}
}
