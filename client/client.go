package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one dakkio node. It is safe for concurrent use.
type Client struct {
	baseURL       string
	apiKey        string
	operatorToken string
	hc            *http.Client
	retry         *RetryPolicy // nil: no retries
}

// Option configures a Client in New.
type Option func(*Client)

// WithAPIKey sets the X-API-Key sent with public API calls.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithOperatorToken sets the X-Operator-Token sent with operator calls.
func WithOperatorToken(token string) Option {
	return func(c *Client) { c.operatorToken = token }
}

// WithHTTPClient sets the HTTP client used for requests (default
// http.DefaultClient). Timeouts belong in it or in the calls' contexts.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// New returns a client for the node at baseURL, such as "http://127.0.0.1:8080".
func New(baseURL string, opts ...Option) *Client {
	c := &Client{baseURL: strings.TrimRight(baseURL, "/"), hc: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithAPIKey returns a copy of c that sends key instead. The copy shares c's
// HTTP client, so making one per key is cheap.
func (c *Client) WithAPIKey(key string) *Client {
	cp := *c
	cp.apiKey = key
	return &cp
}

// WithOperatorToken returns a copy of c that sends token as the operator
// token, such as the one RotateOperatorToken returned.
func (c *Client) WithOperatorToken(token string) *Client {
	cp := *c
	cp.operatorToken = token
	return &cp
}

// BaseURL returns the base URL the client sends requests to.
func (c *Client) BaseURL() string { return c.baseURL }

// Page selects a page of a list endpoint. Zero fields are not sent, so the
// server's defaults apply (limit 100, offset 0).
type Page struct {
	Limit  int
	Offset int
}

func (p Page) query() string {
	v := url.Values{}
	if p.Limit != 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset != 0 {
		v.Set("offset", strconv.Itoa(p.Offset))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Pagination describes where a list page sits in the whole result.
type Pagination struct {
	Limit   int  `json:"limit"`
	Offset  int  `json:"offset"`
	Total   int  `json:"total"`
	HasMore bool `json:"hasMore"`
}

// List is one page of a list endpoint.
type List[T any] struct {
	Data       []T        `json:"data"`
	Pagination Pagination `json:"pagination"`
}

// wholeEnvelope marks outputs that call decodes from the whole envelope
// rather than from its data field.
func (*List[T]) wholeEnvelope() {}

type wholeEnveloper interface{ wholeEnvelope() }

// RawResponse is an undecoded answer from Do.
type RawResponse struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// auth selects which credentials a request carries by default.
type auth uint8

const (
	authAPIKey auth = 1 << iota
	authOperator
	authNone auth = 0
)

// Do sends an arbitrary request to path (which may carry a query string) and
// returns the answer whatever its status; only transport failures are errors.
// It adds the configured X-API-Key and X-Operator-Token, Content-Type
// application/json when body is non-nil, and Accept application/json, unless
// header has that key already. A key present with no values suppresses the
// default, so http.Header{"X-Api-Key": nil} sends a request without a key.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, header http.Header) (*RawResponse, error) {
	return c.send(ctx, method, path, body, header, authAPIKey|authOperator)
}

// send sends the request, again after 429 and 503 answers when retries are
// on, and returns the last answer.
func (c *Client) send(ctx context.Context, method, path string, body []byte, header http.Header, a auth) (*RawResponse, error) {
	for attempt := 1; ; attempt++ {
		resp, err := c.sendOnce(ctx, method, path, body, header, a)
		if err != nil {
			return nil, err
		}
		recordResponse(ctx, resp, attempt)
		wait, again := c.retry.retryWait(resp, attempt+1, time.Now())
		if !again {
			return resp, nil
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: %w (last answer: %d)", method, path, err, resp.StatusCode)
		}
	}
}

func (c *Client) sendOnce(ctx context.Context, method, path string, body []byte, header http.Header, a auth) (*RawResponse, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		ck := http.CanonicalHeaderKey(k)
		req.Header[ck] = append(req.Header[ck], vs...)
	}
	setDefault := func(k, v string) {
		if _, ok := req.Header[k]; !ok && v != "" {
			req.Header.Set(k, v)
		}
	}
	if body != nil {
		setDefault("Content-Type", "application/json")
	}
	setDefault("Accept", "application/json")
	if a&authAPIKey != 0 {
		setDefault("X-Api-Key", c.apiKey)
	}
	if a&authOperator != 0 {
		setDefault("X-Operator-Token", c.operatorToken)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s %s response: %w", method, path, err)
	}
	return &RawResponse{StatusCode: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// call sends reqBody (if not nil) as JSON and decodes the data field of the
// success envelope into out (if not nil); a *List[T] gets the pagination too.
// Operator paths carry the operator token, all others the API key.
func (c *Client) call(ctx context.Context, method, path string, reqBody, out any) error {
	var body []byte
	if reqBody != nil {
		b, err := json.Marshal(reqBody)
		if err != nil {
			return fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
		body = b
	}
	a := authAPIKey
	if strings.HasPrefix(path, "/api/operator/") {
		a = authOperator
	}
	resp, err := c.send(ctx, method, path, body, nil, a)
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp)
	}
	if out == nil {
		return nil
	}
	if err := decodeData(resp.Body, out); err != nil {
		return fmt.Errorf("decode %s %s response: %w", method, path, err)
	}
	return nil
}

func decodeData(body []byte, out any) error {
	if _, ok := out.(wholeEnveloper); ok {
		return json.Unmarshal(body, out)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return err
	}
	if len(env.Data) == 0 {
		return fmt.Errorf("no data field in %q", truncate(body, 200))
	}
	return json.Unmarshal(env.Data, out)
}

// check sends a request without credentials and reports only its status, for
// the health endpoints.
func (c *Client) check(ctx context.Context, path string) error {
	resp, err := c.send(ctx, http.MethodGet, path, nil, nil, authNone)
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp)
	}
	return nil
}

// Health reports whether the node's process is alive (GET /health).
func (c *Client) Health(ctx context.Context) error { return c.check(ctx, "/health") }

// Ready reports whether the node can serve requests now (GET /ready); a node
// that cannot answers 503, returned as an *APIError.
func (c *Client) Ready(ctx context.Context) error { return c.check(ctx, "/ready") }

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
