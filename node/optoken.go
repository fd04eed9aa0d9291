package node

import (
	"fmt"
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

// saveOperatorToken writes a token this node is about to rotate in to its
// operator token file (mode 0600, replacing the old token), as the first
// start does: an answer lost on its way to the operator must not lock
// them out. Should the rotation then fail, the file holds a token the
// cluster does not accept and checkOperatorToken says so at the next
// start; the old token, which the operator just used, still works.
func (n *Node) saveOperatorToken(token string) error {
	path := filepath.Join(n.cfg.DataDir, OperatorTokenFile)
	if err := writeSecretFile(path, token); err != nil {
		n.log.Error("cannot save the rotated operator token; rotation refused", "file", path, "err", err)
		return fmt.Errorf("cannot save the new operator token: %w", err)
	}
	n.log.Info("operator token rotating; the new one is in the token file", "file", path)
	return nil
}
