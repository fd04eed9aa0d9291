package client

import (
	"context"
	"iter"
)

// Paginate walks every item of a paginated list, fetching pages of
// pageSize (0: the server's default, 100) as the loop asks for them. A
// failed page ends the walk with its error. Pages are read by offset, so
// items created or deleted during the walk may shift an item into a page
// already read, or be seen twice.
//
//	for b, err := range c.AllBuckets(ctx, 0) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(b.Name)
//	}
func Paginate[T any](ctx context.Context, pageSize int, fetch func(context.Context, Page) (*List[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		page := Page{Limit: pageSize}
		for {
			l, err := fetch(ctx, page)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range l.Data {
				if !yield(item, nil) {
					return
				}
			}
			if !l.Pagination.HasMore || len(l.Data) == 0 {
				return
			}
			page.Offset += len(l.Data)
		}
	}
}

// AllBuckets walks every bucket of the organization (admin key).
func (c *Client) AllBuckets(ctx context.Context, pageSize int) iter.Seq2[Bucket, error] {
	return Paginate(ctx, pageSize, c.ListBuckets)
}

// AllKeys walks every key of a bucket (admin key).
func (c *Client) AllKeys(ctx context.Context, bucketID string, pageSize int) iter.Seq2[APIKey, error] {
	return Paginate(ctx, pageSize, func(ctx context.Context, p Page) (*List[APIKey], error) {
		return c.ListKeys(ctx, bucketID, p)
	})
}

// AllSources walks every data source of a bucket.
func (c *Client) AllSources(ctx context.Context, bucketID string, pageSize int) iter.Seq2[DataSource, error] {
	return Paginate(ctx, pageSize, func(ctx context.Context, p Page) (*List[DataSource], error) {
		return c.ListSources(ctx, bucketID, p)
	})
}

// AllAlerts walks every alert rule of a bucket.
func (c *Client) AllAlerts(ctx context.Context, bucketID string, pageSize int) iter.Seq2[AlertRule, error] {
	return Paginate(ctx, pageSize, func(ctx context.Context, p Page) (*List[AlertRule], error) {
		return c.ListAlerts(ctx, bucketID, p)
	})
}

// AllAlertEvents walks every event of an alert rule, latest first.
func (c *Client) AllAlertEvents(ctx context.Context, alertID string, pageSize int) iter.Seq2[AlertEvent, error] {
	return Paginate(ctx, pageSize, func(ctx context.Context, p Page) (*List[AlertEvent], error) {
		return c.ListAlertEvents(ctx, alertID, p)
	})
}

// AllOrgs walks every organization (operator token).
func (c *Client) AllOrgs(ctx context.Context, pageSize int) iter.Seq2[Org, error] {
	return Paginate(ctx, pageSize, c.ListOrgs)
}

// AllAdminKeys walks every admin key of an organization (operator token).
func (c *Client) AllAdminKeys(ctx context.Context, orgID string, pageSize int) iter.Seq2[AdminKey, error] {
	return Paginate(ctx, pageSize, func(ctx context.Context, p Page) (*List[AdminKey], error) {
		return c.ListAdminKeys(ctx, orgID, p)
	})
}

// QueryAll walks every row of a raw query, page by page (req.Filters.Limit
// is the page size, 0 the server's default); req.Filters.Offset is where
// it starts. Aggregated queries have a single page.
func (c *Client) QueryAll(ctx context.Context, req QueryRequest) iter.Seq2[QueryRow, error] {
	return func(yield func(QueryRow, error) bool) {
		for {
			res, err := c.Query(ctx, req)
			if err != nil {
				yield(QueryRow{}, err)
				return
			}
			for _, row := range res.Data {
				if !yield(row, nil) {
					return
				}
			}
			if !res.Metadata.HasMore || len(res.Data) == 0 {
				return
			}
			req.Filters.Offset += len(res.Data)
		}
	}
}

// AllWebhooks walks the organization's webhooks, or one bucket's when
// bucketID is not empty (admin key).
func (c *Client) AllWebhooks(ctx context.Context, bucketID string, pageSize int) iter.Seq2[Webhook, error] {
	return Paginate(ctx, pageSize, func(ctx context.Context, p Page) (*List[Webhook], error) {
		return c.ListWebhooks(ctx, bucketID, p)
	})
}

// AllWebhookDeliveries walks a webhook's deliveries, newest first (admin key).
func (c *Client) AllWebhookDeliveries(ctx context.Context, webhookID string, pageSize int) iter.Seq2[WebhookDelivery, error] {
	return Paginate(ctx, pageSize, func(ctx context.Context, p Page) (*List[WebhookDelivery], error) {
		return c.WebhookDeliveries(ctx, webhookID, p)
	})
}
