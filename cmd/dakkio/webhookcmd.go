package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dakkio/dakkio/client"
)

const webhookUsage = `Usage:
  dakkio webhook list [--bucket BUCKET] [--all]
  dakkio webhook create --bucket BUCKET --endpoint URL --event EVENT ... [--name NAME] [--secret SECRET] [--status active|paused]
  dakkio webhook get WEBHOOK-ID
  dakkio webhook update WEBHOOK-ID [--name NAME] [--endpoint URL] [--event EVENT ...] [--secret SECRET] [--status active|paused]
  dakkio webhook delete WEBHOOK-ID
  dakkio webhook deliveries WEBHOOK-ID [--all]   newest first
  dakkio webhook test WEBHOOK-ID                 send a webhook.test event now

EVENT is alert.triggered, data.received or bucket.updated. The secret signs
every delivery (X-Dakkio-Signature) and is never shown again; --secret ""
on update removes it. --endpoint is the URL deliveries are POSTed to (--url
names the dakkio node, as in every command). Webhook commands need an admin key.
` + apiFlagsUsage

func webhookCommand(args []string, stdout, stderr io.Writer) int {
	return dispatch("webhook", webhookUsage, map[string]func([]string, io.Writer, io.Writer) int{
		"list": webhookList, "create": webhookCreate, "get": webhookGet, "update": webhookUpdate,
		"delete": webhookDelete, "deliveries": webhookDeliveries, "test": webhookTest,
	}, args, stdout, stderr)
}

func printWebhook(w io.Writer, h *client.Webhook) {
	kv(w, "Webhook", h.ID, "Bucket", h.BucketID, "Name", dashIfEmpty(h.Name), "URL", h.URL, "Events", strings.Join(h.Events, ", "),
		"Status", h.Status, "Signed", yesNo(h.HasSecret), "Created", timeText(h.CreatedAt), "Updated", timeText(h.UpdatedAt))
}

func webhookList(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("webhook list", "[--bucket BUCKET] [--all]", stdout, stderr)
	bucket := a.fs.String("bucket", "", "only this bucket's webhooks, by id or name")
	page, all := pageFlags(a)
	if code, ok := a.parse(args); !ok {
		return code
	}
	c, code, ok := a.client()
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	id := ""
	if *bucket != "" {
		var err error
		if id, err = resolveBucket(ctx, c, *bucket); err != nil {
			return a.fail(err)
		}
	}
	l, err := listOrAll(*all, c.AllWebhooks(ctx, id, 1000), func() (*client.List[client.Webhook], error) { return c.ListWebhooks(ctx, id, *page) })
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printEnvelope(stdout, l)
	}
	var rows [][]string
	for _, h := range l.Data {
		rows = append(rows, []string{h.ID, dashIfEmpty(h.Name), h.BucketID, h.URL, strings.Join(h.Events, ","), h.Status})
	}
	table(stdout, []string{"ID", "NAME", "BUCKET", "URL", "EVENTS", "STATUS"}, rows)
	morePages(stderr, l.Pagination, len(l.Data))
	return 0
}

func webhookCreate(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("webhook create", "--bucket BUCKET --endpoint URL --event EVENT ...", stdout, stderr)
	bucket := bucketFlag(a)
	url := a.fs.String("endpoint", "", "the URL deliveries are POSTed to (required)")
	var events stringsFlag
	a.fs.Var(&events, "event", "alert.triggered, data.received or bucket.updated (repeat; at least one)")
	name := a.fs.String("name", "", "the webhook's name")
	secret := a.fs.String("secret", "", "signs every delivery (X-Dakkio-Signature); never shown again")
	status := a.fs.String("status", "", "active or paused (server default: active)")
	if code, ok := a.parse(args); !ok {
		return code
	}
	if *url == "" || len(events) == 0 {
		return a.usageError("--endpoint and at least one --event are required")
	}
	c, id, code, ok := withBucket(a, nil, bucket)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	h, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{BucketID: id, URL: *url, Events: events, Name: *name, Secret: *secret, Status: *status})
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, h)
	}
	printWebhook(stdout, h)
	return 0
}

// webhookArg parses a command on one webhook and builds the client.
func webhookArg(a *apiCmd, args []string) (*client.Client, int, bool) {
	if code, ok := a.parse(args, "WEBHOOK-ID"); !ok {
		return nil, code, false
	}
	return a.client()
}

func webhookGet(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("webhook get", "WEBHOOK-ID", stdout, stderr)
	c, code, ok := webhookArg(a, args)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	h, err := c.GetWebhook(ctx, a.pos[0])
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, h)
	}
	printWebhook(stdout, h)
	return 0
}

func webhookUpdate(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("webhook update", "WEBHOOK-ID [flags]", stdout, stderr)
	name := a.fs.String("name", "", "new name")
	url := a.fs.String("endpoint", "", "new URL deliveries are POSTed to")
	var events stringsFlag
	a.fs.Var(&events, "event", "the events, replacing the old list (repeat)")
	secret := a.fs.String("secret", "", `new secret; "" removes it`)
	status := a.fs.String("status", "", "active or paused")
	c, code, ok := webhookArg(a, args)
	if !ok {
		return code
	}
	var req client.UpdateWebhookRequest
	set := false
	for _, f := range []struct {
		flag string
		dst  **string
		v    *string
	}{{"name", &req.Name, name}, {"endpoint", &req.URL, url}, {"secret", &req.Secret, secret}, {"status", &req.Status, status}} {
		if a.visited(f.flag) {
			*f.dst, set = f.v, true
		}
	}
	if len(events) > 0 {
		req.Events, set = events, true
	}
	if !set {
		return a.usageError("give at least one of --name, --endpoint, --event, --secret, --status")
	}
	ctx, cancel := a.ctx()
	defer cancel()
	h, err := c.UpdateWebhook(ctx, a.pos[0], req)
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, h)
	}
	printWebhook(stdout, h)
	return 0
}

func webhookDelete(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("webhook delete", "WEBHOOK-ID", stdout, stderr)
	c, code, ok := webhookArg(a, args)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	d, err := c.DeleteWebhook(ctx, a.pos[0])
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, map[string]any{"deletedWebhook": d})
	}
	fmt.Fprintf(stdout, "deleted webhook %s (%s)\n", dashIfEmpty(d.Name), d.ID)
	return 0
}

func deliveryRow(d client.WebhookDelivery) []string {
	status, lastErr, delivered := "-", "-", "-"
	if d.LastStatusCode != nil {
		status = strconv.Itoa(*d.LastStatusCode)
	}
	if d.LastError != nil && *d.LastError != "" {
		lastErr = *d.LastError
	}
	if d.DeliveredAt != nil {
		delivered = timeText(*d.DeliveredAt)
	}
	return []string{d.ID, d.Event, d.Status, strconv.Itoa(d.Attempts), status, timeText(d.CreatedAt), delivered, lastErr}
}

var deliveryHeader = []string{"ID", "EVENT", "STATUS", "ATTEMPTS", "LAST HTTP", "CREATED", "DELIVERED", "LAST ERROR"}

func webhookDeliveries(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("webhook deliveries", "WEBHOOK-ID [--all]", stdout, stderr)
	page, all := pageFlags(a)
	c, code, ok := webhookArg(a, args)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	l, err := listOrAll(*all, c.AllWebhookDeliveries(ctx, a.pos[0], 1000), func() (*client.List[client.WebhookDelivery], error) { return c.WebhookDeliveries(ctx, a.pos[0], *page) })
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printEnvelope(stdout, l)
	}
	var rows [][]string
	for _, d := range l.Data {
		rows = append(rows, deliveryRow(d))
	}
	table(stdout, deliveryHeader, rows)
	morePages(stderr, l.Pagination, len(l.Data))
	return 0
}

func webhookTest(args []string, stdout, stderr io.Writer) int {
	a := newAPICmd("webhook test", "WEBHOOK-ID", stdout, stderr)
	c, code, ok := webhookArg(a, args)
	if !ok {
		return code
	}
	ctx, cancel := a.ctx()
	defer cancel()
	d, err := c.TestWebhook(ctx, a.pos[0])
	if err != nil {
		return a.fail(err)
	}
	if a.json {
		return printJSON(stdout, d)
	}
	table(stdout, deliveryHeader, [][]string{deliveryRow(*d)})
	return 0
}
