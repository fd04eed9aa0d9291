package httpapi

import (
	"encoding/json"

	"github.com/valyala/fasthttp"
)

// Pagination is the list envelope's page description.
type Pagination struct {
	Limit   int  `json:"limit"`
	Offset  int  `json:"offset"`
	Total   int  `json:"total"`
	HasMore bool `json:"hasMore"`
}

type envelope struct {
	Data       any         `json:"data"`
	Metadata   any         `json:"metadata"`
	Pagination *Pagination `json:"pagination,omitempty"`
}

var emptyObject = struct{}{}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value written here is built from plain structs; failing to
		// encode one is a programming error, answered as a 500.
		status = fasthttp.StatusInternalServerError
		body = []byte(`{"error":"Internal Server Error","message":"cannot encode response"}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

func writeData(ctx *fasthttp.RequestCtx, status int, data any) {
	writeJSON(ctx, status, envelope{Data: data, Metadata: emptyObject})
}

func writeList[T any](ctx *fasthttp.RequestCtx, items []T, p page, total int) {
	if items == nil {
		items = []T{}
	}
	writeJSON(ctx, fasthttp.StatusOK, envelope{
		Data:       items,
		Metadata:   emptyObject,
		Pagination: &Pagination{Limit: p.limit, Offset: p.offset, Total: total, HasMore: p.offset+len(items) < total},
	})
}

// listPage answers a list endpoint: it reads limit and offset, fetches that
// page with list, and writes it as views in the list envelope.
func listPage[T, V any](c *call, list func(offset, limit int) ([]T, int), view func(T) V) error {
	p, aerr := parsePage(c.ctx.QueryArgs().Peek("limit"), c.ctx.QueryArgs().Peek("offset"))
	if aerr != nil {
		return aerr
	}
	items, total := list(p.offset, p.limit)
	views := make([]V, len(items))
	for i, it := range items {
		views[i] = view(it)
	}
	writeList(c.ctx, views, p, total)
	return nil
}

// asIs is the view of a record the API shows as stored.
func asIs[T any](t T) T { return t }

func writeError(ctx *fasthttp.RequestCtx, e *apiError) {
	writeJSON(ctx, e.Status, e)
}
