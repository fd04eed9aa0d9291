package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// DataSourceWithStats is a data source as GetSource returns it.
type DataSourceWithStats struct {
	DataSource
	Stats SourceStats `json:"stats"`
}

// SourceStats describes a data source's stored points, counted exactly
// across the cluster. FirstDataPoint and LastDataPoint are nil while the
// source has no points.
type SourceStats struct {
	DataPointCount int64      `json:"dataPointCount"`
	FirstDataPoint *time.Time `json:"firstDataPoint"`
	LastDataPoint  *time.Time `json:"lastDataPoint"`
}

// UpdateSourceRequest is the body of UpdateSource; nil fields are not sent
// and stay unchanged. Status is "active" or "inactive" (an inactive source
// refuses new points). Schema lists fields to add or whose unit and
// description change; fields not listed stay as they are. Changing a
// field's type is refused (409) once the source has points.
type UpdateSourceRequest struct {
	Name         *string          `json:"name,omitempty"`
	Description  *string          `json:"description,omitempty"`
	Type         *string          `json:"type,omitempty"`
	Downsampling *bool            `json:"downsampling,omitempty"`
	Status       *string          `json:"status,omitempty"`
	Schema       map[string]Field `json:"schema,omitempty"`
}

// DeleteSourceResult is what DeleteSource removed.
type DeleteSourceResult struct {
	DeletedDataSource DeletedDataSource      `json:"deletedDataSource"`
	DeletedResources  DeletedSourceResources `json:"deletedResources"`
}

// DeletedDataSource names the deleted data source.
type DeletedDataSource struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
}

// DeletedSourceResources counts what a data source deletion cascaded to.
type DeletedSourceResources struct {
	DataPoints int64 `json:"dataPoints"`
	AlertRules int   `json:"alertRules"`
}

// GetSource returns a data source with its point stats (any key with access
// to the bucket).
func (c *Client) GetSource(ctx context.Context, bucketID, sourceID string) (*DataSourceWithStats, error) {
	return callFor[DataSourceWithStats](ctx, c, http.MethodGet, sourcePath(bucketID, sourceID), nil)
}

// UpdateSource changes the fields set in req (admin or the bucket's write key).
func (c *Client) UpdateSource(ctx context.Context, bucketID, sourceID string, req UpdateSourceRequest) (*DataSource, error) {
	return callFor[DataSource](ctx, c, http.MethodPatch, sourcePath(bucketID, sourceID), req)
}

// DeleteSource deletes a data source with its points and alert rules
// (admin key).
func (c *Client) DeleteSource(ctx context.Context, bucketID, sourceID string) (*DeleteSourceResult, error) {
	return callFor[DeleteSourceResult](ctx, c, http.MethodDelete, sourcePath(bucketID, sourceID), nil)
}

func sourcePath(bucketID, sourceID string) string {
	return bucketPath(bucketID) + "/sources/" + url.PathEscape(sourceID)
}
