package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/dakkio/dakkio/client"

	"github.com/dakkio/dakkio/internal/testnode"
)

// TestOpenAPIIndependentValidators loads the document a real node serves
// with two OpenAPI implementations nobody on the project wrote, kin-openapi
// and libopenapi-validator, and fails on anything either reports: code
// generators and gateways built on them must accept it as it is.
func TestOpenAPIIndependentValidators(t *testing.T) {
	n := testnode.Start(t)
	raw, _ := openAPIDoc(t, n)

	t.Run("kin-openapi", func(t *testing.T) {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(raw)
		if err != nil {
			t.Fatalf("kin-openapi cannot load /openapi.json: %v", err)
		}
		if err := doc.Validate(t.Context(), openapi3.EnableExamplesValidation()); err != nil {
			t.Errorf("kin-openapi: /openapi.json is not valid: %v", err)
		}
	})

	t.Run("libopenapi-validator", func(t *testing.T) {
		doc, err := libopenapi.NewDocument(raw)
		if err != nil {
			t.Fatalf("libopenapi cannot read /openapi.json: %v", err)
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			t.Fatalf("libopenapi-validator cannot build a validator: %v", errs)
		}
		ok, verrs := v.ValidateDocument()
		for _, e := range verrs {
			t.Errorf("libopenapi-validator: %s: %s", e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
			}
		}
		if !ok && len(verrs) == 0 {
			t.Error("libopenapi-validator: the document is invalid, with no reason given")
		}
	})
}

// independentValidator checks real requests and answers against the
// document with libopenapi-validator, next to checkRealAnswers' own checks.
type independentValidator struct {
	v validator.Validator
}

func newIndependentValidator(t *testing.T, raw []byte) *independentValidator {
	t.Helper()
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("libopenapi cannot read /openapi.json: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("libopenapi-validator cannot build a validator: %v", errs)
	}
	return &independentValidator{v: v}
}

// check validates one exchange: the request when the node accepted it
// (requests the session sends wrong on purpose are refused by the node,
// and by the document), and the answer always.
func (iv *independentValidator) check(t *testing.T, op, url string, header http.Header, body []byte, r *client.RawResponse) {
	t.Helper()
	method, _, _ := strings.Cut(op, " ")
	newReq := func() *http.Request {
		req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		req.Header = header.Clone()
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req
	}
	report := func(what string, errs []*verrors.ValidationError) {
		for _, e := range errs {
			t.Errorf("%s: libopenapi-validator refuses the %s: %s: %s", op, what, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
			}
		}
	}
	if r.StatusCode >= 200 && r.StatusCode <= 299 {
		if ok, errs := iv.v.ValidateHttpRequest(newReq()); !ok {
			report("request", errs)
		}
	}
	resp := &http.Response{StatusCode: r.StatusCode, Header: r.Header, Body: io.NopCloser(bytes.NewReader(r.Body)),
		Request: newReq()}
	if ok, errs := iv.v.ValidateHttpResponse(resp.Request, resp); !ok {
		report(fmt.Sprintf("%d answer", r.StatusCode), errs)
	}
}

// TestIndependentValidatorCatchesMismatches shows the check in
// checkRealAnswers can fail: a real answer, tampered with, is refused.
func TestIndependentValidatorCatchesMismatches(t *testing.T) {
	n := testnode.Start(t)
	raw, _ := openAPIDoc(t, n)
	iv := newIndependentValidator(t, raw)
	r, err := client.New(n.URL).Do(t.Context(), http.MethodGet, "/api/buckets", nil, http.Header{"X-Api-Key": {n.AdminKey}})
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/buckets: %d %s", r.StatusCode, r.Body)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, n.URL+"/api/buckets", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", n.AdminKey)
	validate := func(body string) bool {
		resp := &http.Response{StatusCode: r.StatusCode, Header: r.Header, Body: io.NopCloser(strings.NewReader(body)), Request: req}
		ok, _ := iv.v.ValidateHttpResponse(req, resp)
		return ok
	}
	if !validate(string(r.Body)) {
		t.Fatalf("the real answer is refused: %s", r.Body)
	}
	if validate(`{"data": [{"_id": 5}], "metadata": {}}`) {
		t.Error("a list whose bucket id is a number and that lacks pagination was accepted")
	}
}
