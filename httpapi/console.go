package httpapi

import (
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/console"
)

// consoleSite is the web console, rendered once: its files are embedded,
// so an error is a build defect, found by the console's tests.
var consoleSite = sync.OnceValues(console.New)

func (s *Server) consoleRoutes() {
	s.routes.add("GET", console.Prefix, public, s.consolePage)
	s.routes.add("GET", console.Prefix+"/:file", public, s.consoleAsset)
}

// consolePage serves the web console's page (public: it holds no data;
// every call it makes carries the key the user types in).
func (s *Server) consolePage(c *call) error {
	site, err := consoleSite()
	if err != nil {
		return err
	}
	serveConsoleFile(c, site.Page())
	return nil
}

// consoleAsset serves one of the console's scripts or style sheets.
func (s *Server) consoleAsset(c *call) error {
	site, err := consoleSite()
	if err != nil {
		return err
	}
	f, ok := site.Asset(c.param("file"))
	if !ok {
		return notFound("Console asset not found")
	}
	serveConsoleFile(c, f)
	return nil
}

func serveConsoleFile(c *call, f console.File) {
	h := &c.ctx.Response.Header
	h.Set("Content-Security-Policy", console.CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType(f.ContentType)
	c.ctx.SetBody(f.Body)
}
