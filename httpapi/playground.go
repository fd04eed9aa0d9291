package httpapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"sync"

	"github.com/valyala/fasthttp"
)

// playgroundHTML is the API Playground: one self-contained page (inline CSS
// and script, nothing fetched but /openapi.json and the calls the user
// sends, all to the same origin).
//
//go:embed playground.html
var playgroundHTML []byte

// playgroundCSP allows the page's own inline script and style, by hash, and
// requests to this origin only: no other script can run on a page where
// keys are typed, and nothing leaves the node.
var playgroundCSP = sync.OnceValue(func() string {
	return fmt.Sprintf("default-src 'none'; script-src %s; style-src %s; connect-src 'self'; img-src data:; "+
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		inlineHash(playgroundHTML, "<script>", "</script>"), inlineHash(playgroundHTML, "<style>", "</style>"))
})

// inlineHash returns the CSP source of the first element between open and
// close in page, such as 'sha256-…'.
func inlineHash(page []byte, open, close string) string {
	_, rest, ok := bytes.Cut(page, []byte(open))
	body, _, ok2 := bytes.Cut(rest, []byte(close))
	if !ok || !ok2 {
		// The page is embedded at build time; the test loads it in a browser.
		panic("playground.html has no " + open + " element")
	}
	sum := sha256.Sum256(body)
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// playground serves the API Playground page (public).
func (s *Server) playground(c *call) error {
	h := &c.ctx.Response.Header
	h.Set("Content-Security-Policy", playgroundCSP())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType("text/html; charset=utf-8")
	c.ctx.SetBody(playgroundHTML)
	return nil
}
