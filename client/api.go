package client

import (
	"context"
	"net/http"
	"net/url"
)

// ListBuckets lists the organization's buckets (admin key).
func (c *Client) ListBuckets(ctx context.Context, page Page) (*List[Bucket], error) {
	return callFor[List[Bucket]](ctx, c, http.MethodGet, "/api/buckets"+page.query(), nil)
}

// CreateBucket creates a bucket (admin key).
func (c *Client) CreateBucket(ctx context.Context, req CreateBucketRequest) (*Bucket, error) {
	return callFor[Bucket](ctx, c, http.MethodPost, "/api/buckets", req)
}

// GetBucket returns a bucket with its stats (admin key).
func (c *Client) GetBucket(ctx context.Context, id string) (*BucketWithStats, error) {
	return callFor[BucketWithStats](ctx, c, http.MethodGet, bucketPath(id), nil)
}

// UpdateBucket changes the fields set in req (admin key).
func (c *Client) UpdateBucket(ctx context.Context, id string, req UpdateBucketRequest) (*Bucket, error) {
	return callFor[Bucket](ctx, c, http.MethodPatch, bucketPath(id), req)
}

// DeleteBucket deletes a bucket and everything in it (admin key).
func (c *Client) DeleteBucket(ctx context.Context, id string) (*DeleteBucketResult, error) {
	return callFor[DeleteBucketResult](ctx, c, http.MethodDelete, bucketPath(id), nil)
}

// CreateKey creates a write or read key for a bucket (admin key).
func (c *Client) CreateKey(ctx context.Context, bucketID string, req CreateKeyRequest) (*CreatedKey, error) {
	return callFor[CreatedKey](ctx, c, http.MethodPost, bucketPath(bucketID)+"/keys", req)
}

// ListKeys lists a bucket's keys (admin key).
func (c *Client) ListKeys(ctx context.Context, bucketID string, page Page) (*List[APIKey], error) {
	return callFor[List[APIKey]](ctx, c, http.MethodGet, bucketPath(bucketID)+"/keys"+page.query(), nil)
}

// DeleteKey revokes a bucket's key (admin key).
func (c *Client) DeleteKey(ctx context.Context, bucketID, keyID string) (*DeletedKey, error) {
	out, err := callFor[struct {
		DeletedKey DeletedKey `json:"deletedKey"`
	}](ctx, c, http.MethodDelete, bucketPath(bucketID)+"/keys/"+url.PathEscape(keyID), nil)
	if err != nil {
		return nil, err
	}
	return &out.DeletedKey, nil
}

// CreateSource creates a data source in a bucket (admin or the bucket's write key).
func (c *Client) CreateSource(ctx context.Context, bucketID string, req CreateSourceRequest) (*DataSource, error) {
	return callFor[DataSource](ctx, c, http.MethodPost, bucketPath(bucketID)+"/sources", req)
}

// ListSources lists a bucket's data sources (any key with access to the bucket).
func (c *Client) ListSources(ctx context.Context, bucketID string, page Page) (*List[DataSource], error) {
	return callFor[List[DataSource]](ctx, c, http.MethodGet, bucketPath(bucketID)+"/sources"+page.query(), nil)
}

// CreateOrg creates an organization and its first admin key (operator token).
func (c *Client) CreateOrg(ctx context.Context, req CreateOrgRequest) (*CreatedOrg, error) {
	return callFor[CreatedOrg](ctx, c, http.MethodPost, "/api/operator/orgs", req)
}

// ListOrgs lists all organizations (operator token).
func (c *Client) ListOrgs(ctx context.Context, page Page) (*List[Org], error) {
	return callFor[List[Org]](ctx, c, http.MethodGet, "/api/operator/orgs"+page.query(), nil)
}

// UpdateOrg changes an organization's name or plan (operator token).
func (c *Client) UpdateOrg(ctx context.Context, id string, req UpdateOrgRequest) (*Org, error) {
	return callFor[Org](ctx, c, http.MethodPatch, "/api/operator/orgs/"+url.PathEscape(id), req)
}

// CreateAdminKey creates another admin key for an organization (operator
// token); an empty name lets the server choose one.
func (c *Client) CreateAdminKey(ctx context.Context, orgID, name string) (*CreatedKey, error) {
	body := struct {
		Name string `json:"name,omitempty"`
	}{name}
	return callFor[CreatedKey](ctx, c, http.MethodPost, "/api/operator/orgs/"+url.PathEscape(orgID)+"/keys", body)
}

// ListAdminKeys lists an organization's admin keys, never the keys
// themselves (operator token).
func (c *Client) ListAdminKeys(ctx context.Context, orgID string, page Page) (*List[AdminKey], error) {
	return callFor[List[AdminKey]](ctx, c, http.MethodGet, orgPath(orgID)+"/keys"+page.query(), nil)
}

// RevokeAdminKey revokes an organization's admin key (operator token):
// every node refuses it within the key lease. A key of another
// organization is a 404.
func (c *Client) RevokeAdminKey(ctx context.Context, orgID, keyID string) (*DeletedKey, error) {
	out, err := callFor[struct {
		DeletedKey DeletedKey `json:"deletedKey"`
	}](ctx, c, http.MethodDelete, orgPath(orgID)+"/keys/"+url.PathEscape(keyID), nil)
	if err != nil {
		return nil, err
	}
	return &out.DeletedKey, nil
}

// RotateOperatorToken replaces the cluster's operator token and returns
// the new one, shown only in this answer (operator token). Every node
// refuses the old token within the key lease, this client included: use
// WithOperatorToken(new) from here on.
func (c *Client) RotateOperatorToken(ctx context.Context) (string, error) {
	out, err := callFor[struct {
		Token string `json:"token"`
	}](ctx, c, http.MethodPost, "/api/operator/token", nil)
	if err != nil {
		return "", err
	}
	return out.Token, nil
}

// ClusterStatus returns the nodes, the leader and the Raft state as the
// answering node sees them (operator token).
func (c *Client) ClusterStatus(ctx context.Context) (*ClusterStatus, error) {
	return callFor[ClusterStatus](ctx, c, http.MethodGet, "/api/operator/cluster", nil)
}

// RemoveNode takes a dead or stopped node out of the cluster's Raft
// configuration (operator token). Only the leader can: another node answers
// 503 with the leader's base URL in the X-Dakkio-Leader header, and an
// unknown node is a 404.
func (c *Client) RemoveNode(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/api/operator/cluster/nodes/"+url.PathEscape(id), nil, nil)
}

// Rebalance moves existing buckets onto the replicas the current servers
// call for, after nodes were added (operator token): each move copies the
// bucket to its new replicas, which serve reads once caught up, then drops
// the old ones.
func (c *Client) Rebalance(ctx context.Context) (*RebalanceResult, error) {
	return callFor[RebalanceResult](ctx, c, http.MethodPost, "/api/operator/cluster/rebalance", nil)
}

// callFor is call with a fresh T to decode into; it returns nil on error.
func callFor[T any](ctx context.Context, c *Client, method, path string, reqBody any) (*T, error) {
	var out T
	if err := c.call(ctx, method, path, reqBody, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func bucketPath(id string) string { return "/api/buckets/" + url.PathEscape(id) }

func orgPath(id string) string { return "/api/operator/orgs/" + url.PathEscape(id) }
