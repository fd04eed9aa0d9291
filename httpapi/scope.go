package httpapi

import (
	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store"
)

// requireAdmin refuses bucket keys on organization-wide endpoints.
func (c *call) requireAdmin() error {
	if c.principal.Type != store.KeyAdmin {
		return errAdminOnly
	}
	return nil
}

// checkID validates an id from the path or body; what names the resource in
// the message ("bucket", "key", "data source").
func checkID(id, what string) error {
	if !objectid.Valid(id) {
		return validationError("Invalid " + what + " ID format")
	}
	return nil
}

// bucketAccess loads the bucket a request names, enforcing the permission
// matrix: an admin key reaches its organization's buckets (others are 404, as
// if absent); a bucket key reaches only its own bucket (403 otherwise, without
// revealing whether the other exists) and a read key never writes.
func (s *Server) bucketAccess(c *call, bucketID string, write bool) (store.Bucket, error) {
	if err := checkID(bucketID, "bucket"); err != nil {
		return store.Bucket{}, err
	}
	p := c.principal
	if p.Type != store.KeyAdmin {
		if p.BucketID != bucketID {
			return store.Bucket{}, errOtherBucket
		}
		if write && p.Type != store.KeyWrite {
			return store.Bucket{}, errNoWrite
		}
	}
	return s.cfg.Meta.Bucket(p.OrgID, bucketID)
}
