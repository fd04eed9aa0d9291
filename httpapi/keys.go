package httpapi

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/internal/secret"
	"github.com/dakkio/dakkio/store"
)

// keyView is a stored key as listed: never the key or its hash.
type keyView struct {
	ID         string     `json:"_id"`
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	KeyPrefix  string     `json:"keyPrefix"`
	BucketID   string     `json:"bucketId"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
}

// createdKeyView is the one response that carries the key itself.
type createdKeyView struct {
	ID             string    `json:"_id"`
	Name           string    `json:"name"`
	Type           string    `json:"type"`
	Key            string    `json:"key"`
	KeyPrefix      string    `json:"keyPrefix"`
	BucketID       string    `json:"bucketId,omitempty"`
	OrganizationID string    `json:"organizationId,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
}

// newKey makes a key of type t and the record that stores its hash.
func newKey(t store.KeyType, name, orgID, bucketID string, now time.Time) (store.APIKey, createdKeyView) {
	prefix := map[store.KeyType]string{store.KeyAdmin: secret.AdminPrefix, store.KeyWrite: secret.WritePrefix, store.KeyRead: secret.ReadPrefix}[t]
	raw := secret.New(prefix)
	rec := store.APIKey{
		ID: objectid.New(now), Name: name, Type: t, Hash: secret.Hash(raw), KeyPrefix: secret.DisplayPrefix(raw),
		OrganizationID: orgID, BucketID: bucketID, CreatedAt: now,
	}
	view := createdKeyView{ID: rec.ID, Name: name, Type: string(t), Key: raw, KeyPrefix: rec.KeyPrefix, BucketID: bucketID, CreatedAt: now}
	if t == store.KeyAdmin {
		view.OrganizationID = orgID
	}
	return rec, view
}

func (s *Server) listKeys(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	b, err := s.bucketAccess(c, c.param("bucketId"), false)
	if err != nil {
		return err
	}
	return listPage(c, func(offset, limit int) ([]store.APIKey, int) { return s.cfg.Meta.Keys(b.ID, offset, limit) },
		func(k store.APIKey) keyView {
			v := keyView{ID: k.ID, Name: k.Name, Type: string(k.Type), KeyPrefix: k.KeyPrefix, BucketID: k.BucketID, CreatedAt: k.CreatedAt}
			if t, ok := s.cfg.Usage.LastUsed(k.ID); ok {
				t := t.UTC()
				v.LastUsedAt = &t
			}
			return v
		})
}

func (s *Server) createKey(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	b, err := s.bucketAccess(c, c.param("bucketId"), true)
	if err != nil {
		return err
	}
	var name, typ string
	if aerr := withBody(c.ctx.PostBody(), func(r *body) {
		name, _ = r.text("name", true, 1, maxNameLen)
		typ, _ = r.enum("type", true, string(store.KeyWrite), string(store.KeyRead))
	}); aerr != nil {
		return aerr
	}
	rec, view := newKey(store.KeyType(typ), name, b.OrganizationID, b.ID, s.now())
	if _, err := s.apply(store.CreateKey{Key: rec}); err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusCreated, view)
	return nil
}

func (s *Server) deleteKey(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	b, err := s.bucketAccess(c, c.param("bucketId"), true)
	if err != nil {
		return err
	}
	keyID := c.param("keyId")
	if err := checkID(keyID, "API key"); err != nil {
		return err
	}
	k, err := applyFor[store.APIKey](s, store.DeleteKey{OrgID: b.OrganizationID, BucketID: b.ID, KeyID: keyID})
	if err != nil {
		return err
	}
	writeData(c.ctx, fasthttp.StatusOK, map[string]any{"deletedKey": map[string]string{"_id": k.ID, "name": k.Name, "type": string(k.Type)}})
	return nil
}
