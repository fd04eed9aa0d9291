package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/dakkio/dakkio/client"
	"github.com/dakkio/dakkio/httpapi"
	"github.com/dakkio/dakkio/internal/testnode"
)

// The OpenAPI tests fetch /openapi.json from a real node and hold it to the
// server: every registered route is documented and every documented path is
// served, the document is well formed (references resolve, path parameters
// declared, schemas valid JSON Schema 2020-12), its examples match its
// schemas, and the real answers of a session over every endpoint match the
// schemas documented for their status.
//
// Excluded on purpose: the node-to-node routes under /internal/ (signed with
// the cluster key, not part of the public API).

const internalPrefix = "/internal/"

// openAPIDoc fetches and decodes the node's document.
func openAPIDoc(t *testing.T, n *testnode.Node) (raw []byte, doc map[string]any) {
	t.Helper()
	resp, err := http.Get(n.URL + "/openapi.json")
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading /openapi.json: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: status %d, body %s", resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET /openapi.json: Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("/openapi.json is not a JSON object: %v", err)
	}
	return raw, doc
}

// registeredRoutes returns "METHOD /path/{param}" for every route an
// httpapi.Server registers, /internal/ ones left out. The server is built
// with placeholder dependencies: routes do not depend on them, and
// nothing here serves a request.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	srv, err := httpapi.New(httpapi.Config{
		Meta: struct{ httpapi.Metadata }{}, Applier: struct{ httpapi.Applier }{}, Points: struct{ httpapi.Points }{},
		Node: struct{ httpapi.Node }{}, Usage: struct{ httpapi.KeyUsage }{}, Limiter: struct{ httpapi.Limiter }{},
		Metrics: prometheus.NewRegistry(), // as every node has: GET /metrics is registered
	})
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	var out []string
	for _, r := range srv.Routes() {
		if strings.HasPrefix(r.Pattern, internalPrefix) {
			continue
		}
		parts := strings.Split(r.Pattern, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		out = append(out, r.Method+" "+strings.Join(parts, "/"))
		if r.Method == http.MethodGet {
			// The router answers HEAD wherever it answers GET.
			out = append(out, http.MethodHead+" "+strings.Join(parts, "/"))
		}
	}
	return out
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// documentedOperations returns "METHOD /path" for every operation of doc.
func documentedOperations(doc map[string]any) []string {
	paths, _ := doc["paths"].(map[string]any)
	var out []string
	for p, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range httpMethods {
			if _, ok := item[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	return out
}

func TestOpenAPI(t *testing.T) {
	n := testnode.Start(t)
	raw, doc := openAPIDoc(t, n)

	t.Run("version", func(t *testing.T) {
		if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
			t.Errorf(`openapi = %q, want "3.1.x"`, v)
		}
		info, _ := doc["info"].(map[string]any)
		if info["title"] == "" || info["title"] == nil || info["version"] == "" || info["version"] == nil {
			t.Errorf("info needs a title and a version: %v", info)
		}
	})

	t.Run("every route documented, every path served", func(t *testing.T) {
		routes, documented := registeredRoutes(t), documentedOperations(doc)
		var problems []string
		for _, r := range routes {
			if !slices.Contains(documented, r) {
				problems = append(problems, "the server registers "+r+" but /openapi.json does not document it: add it to specEndpoints in httpapi/openapi.go")
			}
		}
		for _, d := range documented {
			if !slices.Contains(routes, d) {
				problems = append(problems, "/openapi.json documents "+d+" but the server registers no such route: remove it from specEndpoints in httpapi/openapi.go, or register it")
			}
		}
		slices.Sort(problems)
		if len(problems) > 0 {
			t.Errorf("the OpenAPI document and Server.Routes() differ (routes under %s are excluded on purpose):\n  %s",
				internalPrefix, strings.Join(problems, "\n  "))
		}
		if len(routes) < 30 {
			t.Errorf("only %d routes registered; want every public route (got %v)", len(routes), routes)
		}
	})

	t.Run("the real node answers every documented operation", func(t *testing.T) {
		// Without credentials, so nothing changes: a protected route
		// answers 401, a public one 200; never 404 "Route not found" or 405.
		cl := client.New(n.URL)
		for _, op := range documentedOperations(doc) {
			method, path, _ := strings.Cut(op, " ")
			path = regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "000000000000000000000000")
			r, err := cl.Do(t.Context(), method, path, nil, http.Header{"X-Api-Key": nil})
			if err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			if r.StatusCode == http.StatusNotFound && bytes.Contains(r.Body, []byte("Route not found")) || r.StatusCode == http.StatusMethodNotAllowed {
				t.Errorf("%s (as %s %s): the node answers %d %s", op, method, path, r.StatusCode, r.Body)
			}
		}
	})

	t.Run("well formed", func(t *testing.T) {
		checkWellFormed(t, doc)
	})

	compiler := newSchemaCompiler(t, raw)

	t.Run("schemas are valid JSON Schema", func(t *testing.T) {
		for name := range asMap(asMap(doc["components"])["schemas"]) {
			if _, err := compiler.compile("#/components/schemas/" + escapePtr(name)); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("examples match their schemas", func(t *testing.T) {
		paths, _ := doc["paths"].(map[string]any)
		for p, item := range paths {
			for m, op := range item.(map[string]any) {
				op, _ := op.(map[string]any)
				checkExamples(t, compiler, doc, strings.ToUpper(m)+" "+p, op)
			}
		}
	})

	t.Run("real answers match the document", func(t *testing.T) {
		checkRealAnswers(t, n, doc, compiler, newIndependentValidator(t, raw))
	})
}

// checkWellFormed checks what a validator of OpenAPI documents would:
// references resolve, operations are complete and path parameters match
// their templates.
func checkWellFormed(t *testing.T, doc map[string]any) {
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := pointer(doc, ref); err != nil {
					t.Errorf("%s: $ref %q: %v", at, ref, err)
				}
			}
			for k, e := range v {
				walk(at+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", at, i), e)
			}
		}
	}
	walk("#", doc)

	tags := map[string]bool{}
	for _, tag := range doc["tags"].([]any) {
		tags[tag.(map[string]any)["name"].(string)] = true
	}
	schemes, _ := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	for _, name := range []string{"apiKey", "operatorToken"} {
		if _, ok := schemes[name]; !ok {
			t.Errorf("components.securitySchemes lacks %q", name)
		}
	}
	if h, _ := schemes["apiKey"].(map[string]any); h["in"] != "header" || h["name"] != "X-API-Key" {
		t.Errorf("securitySchemes.apiKey = %v, want the X-API-Key header", h)
	}
	if h, _ := schemes["operatorToken"].(map[string]any); h["in"] != "header" || h["name"] != "X-Operator-Token" {
		t.Errorf("securitySchemes.operatorToken = %v, want the X-Operator-Token header", h)
	}
	errSchema, err := pointer(doc, "#/components/schemas/Error")
	if err != nil || !slices.Equal(toStrings(errSchema.(map[string]any)["required"]), []string{"error", "message"}) {
		t.Errorf("components.schemas.Error must require error and message: %v", errSchema)
	}

	ids := map[string]string{}
	tmplParam := regexp.MustCompile(`\{([^}]+)\}`)
	for p, item := range doc["paths"].(map[string]any) {
		var inPath []string
		for _, m := range tmplParam.FindAllStringSubmatch(p, -1) {
			inPath = append(inPath, m[1])
		}
		for _, m := range httpMethods {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok {
				continue
			}
			name := strings.ToUpper(m) + " " + p
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", name)
			} else if other, dup := ids[id]; dup {
				t.Errorf("%s: operationId %q already used by %s", name, id, other)
			}
			ids[id] = name
			if s, _ := op["summary"].(string); s == "" {
				t.Errorf("%s: no summary", name)
			}
			for _, tag := range toStrings(op["tags"]) {
				if !tags[tag] {
					t.Errorf("%s: tag %q is not declared in tags", name, tag)
				}
			}
			sec, ok := op["security"].([]any)
			if !ok {
				t.Errorf("%s: no security (use [] for public endpoints)", name)
			}
			for _, req := range sec {
				for scheme := range req.(map[string]any) {
					if _, ok := schemes[scheme]; !ok {
						t.Errorf("%s: security scheme %q is not declared", name, scheme)
					}
				}
			}
			if strings.HasPrefix(p, "/api/") && len(sec) == 0 {
				t.Errorf("%s: an /api/ endpoint without security", name)
			}
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", name)
			}
			if len(sec) > 0 {
				if _, ok := responses["401"]; !ok {
					t.Errorf("%s: needs credentials but documents no 401", name)
				}
			}
			var declared []string
			for _, prm := range asSlice(op["parameters"]) {
				prm, err := resolveRef(doc, prm)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				pm := prm.(map[string]any)
				if pm["in"] == "path" {
					declared = append(declared, pm["name"].(string))
					if pm["required"] != true {
						t.Errorf("%s: path parameter %v must be required", name, pm["name"])
					}
				}
			}
			slices.Sort(declared)
			want := slices.Sorted(slices.Values(inPath))
			if !slices.Equal(declared, want) {
				t.Errorf("%s: path parameters declared %v, template has %v", name, declared, want)
			}
		}
	}
}

// toStrings returns v's strings when v is a JSON array.
func toStrings(v any) []string {
	arr, _ := v.([]any)
	var out []string
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// pointer resolves a local reference such as "#/components/schemas/Bucket".
func pointer(doc map[string]any, ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("not a local reference")
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not inside an object", part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("no %q", part)
		}
	}
	return cur, nil
}

// resolveRef follows v's $ref, if any.
func resolveRef(doc map[string]any, v any) (any, error) {
	for i := 0; i < 10; i++ {
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v, nil
		}
		var err error
		if v, err = pointer(doc, ref); err != nil {
			return nil, fmt.Errorf("$ref %q: %w", ref, err)
		}
	}
	return nil, fmt.Errorf("$ref chain too long")
}

const docURL = "https://dakkio.invalid/openapi.json"

// schemaCompiler compiles the document's schemas, each a JSON Schema
// 2020-12 (the OpenAPI 3.1 dialect) within the document.
type schemaCompiler struct {
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
}

func newSchemaCompiler(t *testing.T, raw []byte) *schemaCompiler {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("cannot decode the document: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, v); err != nil {
		t.Fatalf("cannot load the document as a schema resource: %v", err)
	}
	return &schemaCompiler{c: c, cache: map[string]*jsonschema.Schema{}}
}

// validate checks instance (JSON) against the schema at ptr, a JSON pointer
// into the document.
func (sc *schemaCompiler) validate(ptr string, instance []byte) error {
	sch, err := sc.compile(ptr)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(instance))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}

// compile returns the schema at ptr, compiled once.
func (sc *schemaCompiler) compile(ptr string) (*jsonschema.Schema, error) {
	if sch, ok := sc.cache[ptr]; ok {
		return sch, nil
	}
	sch, err := sc.c.Compile(docURL + ptr)
	if err != nil {
		return nil, fmt.Errorf("the schema at %s does not compile: %w", ptr, err)
	}
	sc.cache[ptr] = sch
	return sch, nil
}

func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// checkExamples validates an operation's request examples and its
// responses' examples against their schemas.
func checkExamples(t *testing.T, sc *schemaCompiler, doc map[string]any, name string, op map[string]any) {
	method, path, _ := strings.Cut(name, " ")
	base := "#/paths/" + escapePtr(path) + "/" + strings.ToLower(method)
	// A binary body (a backup's points) has no example to check.
	if rb, ok := op["requestBody"].(map[string]any); ok && asMap(rb["content"])["application/octet-stream"] == nil {
		media, _ := rb["content"].(map[string]any)["application/json"].(map[string]any)
		if media == nil {
			t.Errorf("%s: the request body has no application/json content", name)
			return
		}
		schemaPtr := base + "/requestBody/content/application~1json/schema"
		if _, both := media["example"]; both && media["examples"] != nil {
			t.Errorf("%s: the request body has both example and examples, which OpenAPI forbids", name)
		}
		first, _ := media["x-dakkio-default-example"].(string)
		if _, ok := asMap(media["examples"])[first]; !ok && media["example"] == nil {
			t.Errorf("%s: the request body has no example named by x-dakkio-default-example (the playground fills it in)", name)
		}
		check := func(what string, v any) {
			b, _ := json.Marshal(v)
			if err := sc.validate(schemaPtr, b); err != nil {
				t.Errorf("%s: %s does not match the request schema: %v", name, what, err)
			}
		}
		if ex, ok := media["example"]; ok {
			check("example", ex)
		}
		for exName, ex := range asMap(media["examples"]) {
			check("example "+exName, asMap(ex)["value"])
		}
	}
	for status, resp := range asMap(op["responses"]) {
		ref, _ := asMap(resp)["$ref"].(string)
		resolved, err := resolveRef(doc, resp)
		if err != nil {
			t.Errorf("%s: response %s: %v", name, status, err)
			continue
		}
		ptr := base + "/responses/" + status
		if ref != "" {
			ptr = ref
		}
		for ct, media := range asMap(asMap(resolved)["content"]) {
			if ex, ok := asMap(media)["example"]; ok {
				b, _ := json.Marshal(ex)
				if err := sc.validate(ptr+"/content/"+escapePtr(ct)+"/schema", b); err != nil {
					t.Errorf("%s: the example of response %s does not match its schema: %v", name, status, err)
				}
			}
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// checkRealAnswers drives a session over every documented operation and
// checks each answer against the document: its status is documented, and
// its body matches the schema of that status.
func checkRealAnswers(t *testing.T, n *testnode.Node, doc map[string]any, sc *schemaCompiler, iv *independentValidator) {
	exercised := map[string]bool{}
	// call sends a request to the operation "METHOD /template" with path
	// parameters filled from params; auth is "admin", "operator", "none" or
	// a key. It checks the answer against the document and returns it.
	call := func(op string, params map[string]string, auth string, body any, want int) *client.RawResponse {
		t.Helper()
		method, tmpl, _ := strings.Cut(op, " ")
		path := tmpl
		tmpl, _, _ = strings.Cut(tmpl, "?")
		op = method + " " + tmpl
		for k, v := range params {
			path = strings.ReplaceAll(path, "{"+k+"}", v)
		}
		var raw []byte
		if body != nil {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		header := http.Header{"Accept": {"application/json"}}
		switch auth {
		case "operator":
			header.Set("X-Operator-Token", n.OperatorToken)
		case "admin":
			header.Set("X-Api-Key", n.AdminKey)
		case "none":
		default:
			header.Set("X-Api-Key", auth)
		}
		sent := header.Clone()
		if _, ok := header["X-Api-Key"]; !ok {
			header["X-Api-Key"] = nil // no default key from the client
		}
		r, err := client.New(n.URL).Do(t.Context(), method, path, raw, header)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if r.StatusCode != want {
			t.Fatalf("%s: status %d, want %d; body %s", op, r.StatusCode, want, r.Body)
		}
		exercised[op] = true
		iv.check(t, op, n.URL+path, sent, raw, r)
		opDoc, err := pointer(doc, "#/paths/"+escapePtr(tmpl)+"/"+strings.ToLower(method))
		if err != nil {
			t.Errorf("%s is not in the document: %v", op, err)
			return r
		}
		status := fmt.Sprint(r.StatusCode)
		resp, ok := asMap(opDoc)["responses"].(map[string]any)[status]
		if !ok {
			t.Errorf("%s answered %d, which the document does not list", op, r.StatusCode)
			return r
		}
		ptr := "#/paths/" + escapePtr(tmpl) + "/" + strings.ToLower(method) + "/responses/" + status
		if ref, ok := asMap(resp)["$ref"].(string); ok {
			ptr = ref
		}
		resolved, _ := resolveRef(doc, resp)
		ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		if method == http.MethodHead {
			// No body: only the status and the headers are checked.
			if len(r.Body) > 0 {
				t.Errorf("%s: a HEAD answer with a body of %d bytes", op, len(r.Body))
			}
			ct = ""
		}
		if _, ok := asMap(asMap(resolved)["content"])[ct]; !ok && ct != "" {
			t.Errorf("%s answered %d with Content-Type %q, which the document does not list", op, r.StatusCode, ct)
			return r
		}
		if ct == "application/json" {
			if err := sc.validate(ptr+"/content/application~1json/schema", r.Body); err != nil {
				t.Errorf("%s: the %d answer does not match the document: %v\nbody: %s", op, r.StatusCode, err, r.Body)
			}
		}
		for h := range asMap(asMap(resolved)["headers"]) {
			if r.Header.Get(h) == "" {
				t.Errorf("%s: the %d answer lacks the documented header %s", op, r.StatusCode, h)
			}
		}
		return r
	}
	id := func(r *client.RawResponse) string {
		var env struct {
			Data struct {
				ID string `json:"_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.Body, &env); err != nil || env.Data.ID == "" {
			t.Fatalf("no data._id in %s", r.Body)
		}
		return env.Data.ID
	}

	call("GET /health", nil, "none", nil, 200)
	call("GET /ready", nil, "none", nil, 200)
	call("GET /openapi.json", nil, "none", nil, 200)
	call("GET /playground", nil, "none", nil, 200)

	name := fmt.Sprintf("openapi-%d", time.Now().UnixNano())
	b := id(call("POST /api/buckets", nil, "admin", map[string]any{"name": name, "retentionDays": 30}, 201))
	bp := map[string]string{"id": b, "bucketId": b}
	call("POST /api/buckets", nil, "admin", map[string]any{"name": name}, 409)
	call("GET /api/buckets", nil, "admin", nil, 200)
	call("GET /api/buckets", nil, "none", nil, 401)
	call("GET /api/buckets/{id}", bp, "admin", nil, 200)
	call("GET /api/buckets/{id}", map[string]string{"id": "not-an-id"}, "admin", nil, 400)
	call("GET /api/buckets/{id}", map[string]string{"id": "000000000000000000000000"}, "admin", nil, 404)
	call("PATCH /api/buckets/{id}", bp, "admin", map[string]any{"description": "described"}, 200)

	kr := call("POST /api/buckets/{bucketId}/keys", bp, "admin", map[string]any{"name": "reader", "type": "read"}, 201)
	var created struct {
		Data struct {
			ID  string `json:"_id"`
			Key string `json:"key"`
		} `json:"data"`
	}
	if err := json.Unmarshal(kr.Body, &created); err != nil {
		t.Fatal(err)
	}
	call("GET /api/buckets/{bucketId}/keys", bp, "admin", nil, 200)
	call("GET /api/buckets", nil, created.Data.Key, nil, 403)

	src := id(call("POST /api/buckets/{bucketId}/sources", bp, "admin", map[string]any{"name": "sensor-1",
		"schema": map[string]any{"temperature": map[string]any{"type": "number", "unit": "C"}, "door": map[string]any{"type": "boolean"}}}, 201))
	call("GET /api/buckets/{bucketId}/sources", bp, created.Data.Key, nil, 200)
	sp := map[string]string{"bucketId": b, "sourceId": src}
	call("GET /api/buckets/{bucketId}/sources/{sourceId}", sp, created.Data.Key, nil, 200)
	call("PATCH /api/buckets/{bucketId}/sources/{sourceId}", sp, "admin", map[string]any{"description": "by the door"}, 200)
	call("HEAD /api/buckets", nil, "admin", nil, 200)
	call("HEAD /api/buckets/{id}", bp, "admin", nil, 200)
	call("HEAD /api/buckets/{id}", map[string]string{"id": "000000000000000000000000"}, "admin", nil, 404)
	call("HEAD /health", nil, "none", nil, 200)

	hook := id(call("POST /api/webhooks", nil, "admin", map[string]any{"bucketId": b, "url": "http://127.0.0.1:9/hook",
		"events": []string{"bucket.updated"}, "name": "openapi"}, 201))
	hp := map[string]string{"id": hook}
	call("GET /api/webhooks", nil, "admin", nil, 200)
	call("GET /api/webhooks/{id}", hp, "admin", nil, 200)
	call("PATCH /api/webhooks/{id}", hp, "admin", map[string]any{"status": "paused"}, 200)
	call("GET /api/webhooks/{id}/deliveries", hp, "admin", nil, 200)
	call("DELETE /api/webhooks/{id}", hp, "admin", nil, 200)
	call("GET /api/webhooks/{id}", hp, "admin", nil, 404)

	now := time.Now().UTC()
	call("POST /api/data", nil, "admin", map[string]any{"bucketId": b, "dataSourceId": src,
		"values": map[string]any{"temperature": 21.5, "door": false}, "metadata": map[string]any{"room": "a"}}, 201)
	call("POST /api/data/batch", nil, "admin", map[string]any{"bucketId": b, "dataPoints": []any{
		map[string]any{"dataSourceId": src, "timestamp": now.Add(-2 * time.Minute).Format(time.RFC3339Nano), "values": map[string]any{"temperature": 20.25}},
		map[string]any{"dataSourceId": src, "timestamp": now.Add(-time.Minute).Format(time.RFC3339Nano), "values": map[string]any{"temperature": 20.5, "door": true}},
	}}, 201)
	call("POST /api/data/batch", nil, "admin", map[string]any{"bucketId": b, "dataPoints": []any{
		map[string]any{"dataSourceId": src, "values": map[string]any{"temperature": "warm"}}}}, 400)
	call("POST /api/data/query", nil, created.Data.Key, map[string]any{"bucketId": b, "filters": map[string]any{"dataSourceId": src}}, 200)
	call("POST /api/data/query", nil, "admin", map[string]any{"bucketId": b, "aggregation": "avg", "groupBy": "hour"}, 200)
	call("POST /api/data/query", nil, "admin", map[string]any{"bucketId": b, "aggregation": "max"}, 200)

	alert := id(call("POST /api/alerts", nil, "admin", map[string]any{"bucketId": b, "dataSourceId": src, "name": "hot",
		"condition": "temperature is greater than 90", "webhookUrl": "http://127.0.0.1:9/hook"}, 201))
	ap := map[string]string{"id": alert}
	call("GET /api/buckets/{bucketId}/alerts", bp, "admin", nil, 200)
	call("GET /api/alerts/{id}", ap, created.Data.Key, nil, 200)
	call("PATCH /api/alerts/{id}", ap, "admin", map[string]any{"status": "paused", "cooldownMinutes": 10}, 200)
	call("GET /api/alerts/{id}/events", ap, "admin", nil, 200)

	call("GET /api/analytics/overview", nil, "admin", nil, 200)
	call("GET /api/analytics/buckets/{bucketId}?period=24h", bp, "admin", nil, 200)

	or := call("POST /api/operator/orgs", nil, "operator", map[string]any{"name": name, "plan": "pro"}, 201)
	var orgCreated struct {
		Data struct {
			Organization struct {
				ID string `json:"_id"`
			} `json:"organization"`
		} `json:"data"`
	}
	if err := json.Unmarshal(or.Body, &orgCreated); err != nil || orgCreated.Data.Organization.ID == "" {
		t.Fatalf("no data.organization._id in %s", or.Body)
	}
	org := orgCreated.Data.Organization.ID
	call("GET /api/operator/orgs", nil, "operator", nil, 200)
	call("GET /api/operator/orgs", nil, "none", nil, 401)
	call("PATCH /api/operator/orgs/{id}", map[string]string{"id": org}, "operator", map[string]any{"plan": "enterprise"}, 200)
	call("POST /api/operator/orgs/{id}/keys", map[string]string{"id": org}, "operator", map[string]any{"name": "ci"}, 201)
	ak := id(call("POST /api/operator/orgs/{id}/keys", map[string]string{"id": org}, "operator", map[string]any{"name": "revoke-me"}, 201))
	call("GET /api/operator/orgs/{id}/keys", map[string]string{"id": org}, "operator", nil, 200)
	call("GET /api/operator/orgs/{id}/keys", map[string]string{"id": "000000000000000000000000"}, "operator", nil, 404)
	call("DELETE /api/operator/orgs/{id}/keys/{keyId}", map[string]string{"id": org, "keyId": ak}, "operator", nil, 200)
	call("DELETE /api/operator/orgs/{id}/keys/{keyId}", map[string]string{"id": org, "keyId": ak}, "operator", nil, 404)
	call("DELETE /api/operator/orgs/{id}/keys/{keyId}", map[string]string{"id": org, "keyId": "nope"}, "operator", nil, 400)
	call("GET /api/operator/cluster", nil, "operator", nil, 200)
	call("DELETE /api/operator/cluster/nodes/{id}", map[string]string{"id": "no-such-node"}, "operator", nil, 404)

	call("DELETE /api/alerts/{id}", ap, "admin", nil, 200)
	call("DELETE /api/buckets/{bucketId}/sources/{sourceId}", sp, "admin", nil, 200)
	call("DELETE /api/buckets/{bucketId}/keys/{keyId}", map[string]string{"bucketId": b, "keyId": created.Data.ID}, "admin", nil, 200)
	call("DELETE /api/buckets/{id}", bp, "admin", nil, 200)
	// Last: the node's operator token is refused from here on.
	call("POST /api/operator/token", nil, "operator", nil, 200)
	call("POST /api/operator/token", nil, "operator", nil, 401)

	// New endpoints need a step above; say which have none yet.
	var missed []string
	for _, op := range documentedOperations(doc) {
		if !exercised[op] {
			missed = append(missed, op)
		}
	}
	if len(missed) > 0 {
		slices.Sort(missed)
		t.Logf("operations not exercised against the document (add a step to checkRealAnswers): %v", missed)
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
