package httpapi

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/store"
)

// adminKeyView is an admin key as the operator lists it: never the key or
// its hash.
type adminKeyView struct {
	ID             string     `json:"_id"`
	Name           string     `json:"name"`
	Type           string     `json:"type"`
	KeyPrefix      string     `json:"keyPrefix"`
	OrganizationID string     `json:"organizationId"`
	CreatedAt      time.Time  `json:"createdAt"`
	LastUsedAt     *time.Time `json:"lastUsedAt"`
}

// listAdminKeys answers GET /api/operator/orgs/:id/keys.
func (s *Server) listAdminKeys(c *call) error {
	id := c.param("id")
	if err := checkID(id, "organization"); err != nil {
		return err
	}
	if _, err := s.cfg.Meta.Org(id); err != nil {
		return err
	}
	return listPage(c, func(offset, limit int) ([]store.APIKey, int) { return s.cfg.Meta.AdminKeys(id, offset, limit) },
		func(k store.APIKey) adminKeyView {
			v := adminKeyView{ID: k.ID, Name: k.Name, Type: string(k.Type), KeyPrefix: k.KeyPrefix, OrganizationID: k.OrganizationID, CreatedAt: k.CreatedAt}
			if t, ok := s.cfg.Usage.LastUsed(k.ID); ok {
				t := t.UTC()
				v.LastUsedAt = &t
			}
			return v
		})
}

// revokeAdminKey answers DELETE /api/operator/orgs/:id/keys/:keyId. Like a
// bucket key's delete, it goes through Raft: the key leaves every node's
// cache as the entry is applied there, so every node refuses it within the
// key lease.
func (s *Server) revokeAdminKey(c *call) error {
	orgID, keyID := c.param("id"), c.param("keyId")
	if err := checkID(orgID, "organization"); err != nil {
		return err
	}
	if err := checkID(keyID, "API key"); err != nil {
		return err
	}
	k, err := applyFor[store.APIKey](s, store.DeleteAdminKey{OrgID: orgID, KeyID: keyID})
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, map[string]any{"deletedKey": map[string]string{"_id": k.ID, "name": k.Name, "type": string(k.Type)}})
	return nil
}

// rotateOperatorToken answers POST /api/operator/token: a new token, shown
// in this answer only; the cluster keeps its hash.
func (s *Server) rotateOperatorToken(c *call) error {
	token := secret.New(secret.OperatorPrefix)
	// Saved before it is applied: should this answer be lost after the
	// entry commits, the operator still finds the token on this node.
	if s.cfg.SaveOperatorToken != nil {
		if err := s.cfg.SaveOperatorToken(token); err != nil {
			return err
		}
	}
	if _, err := s.apply(store.RotateOperatorToken{TokenHash: secret.Hash(token)}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, map[string]string{"token": token})
	return nil
}
