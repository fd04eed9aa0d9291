package console

import (
	"bytes"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"sort"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under; the page is at Prefix and
// each asset at Prefix + "/" + its name.
const Prefix = "/console"

// CSP is the Content-Security-Policy of every console response: scripts and
// styles from this origin only (each also pinned by its integrity hash in
// the page), requests to this origin only, no inline code, no plugins, no
// framing, and Trusted Types so that no script can turn a string into HTML.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// Scripts are the console's scripts (assets/*.js) in the order they run.
// They are served joined, as one file (BundleName), so that the page loads
// one script rather than nine; each stays a file of its own to read.
var Scripts = []string{"dom.js", "api.js", "charts.js", "condition.js", "views.js", "explore.js", "alerts.js", "operator.js", "app.js"}

// BundleName is the name the joined scripts are served under.
const BundleName = "console.js"

// File is one response of the console, ready to serve.
type File struct {
	Name        string
	ContentType string
	Body        []byte
}

// Site is the console's page and its assets.
type Site struct {
	page  File
	files map[string]File
}

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

// New reads the embedded assets and renders the page, naming each script and
// style sheet with its SHA-384 integrity hash.
func New() (*Site, error) {
	s := &Site{files: map[string]File{}}
	entries, err := fs.ReadDir(assets, "assets")
	if err != nil {
		return nil, fmt.Errorf("cannot list console assets: %w", err)
	}
	scripts := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		if name == "index.html" {
			continue
		}
		if path.Ext(name) == ".js" {
			body, err := assets.ReadFile("assets/" + name)
			if err != nil {
				return nil, fmt.Errorf("cannot read console script %q: %w", name, err)
			}
			scripts[name] = body
			continue
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil, fmt.Errorf("console asset %q has no known content type", name)
		}
		body, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return nil, fmt.Errorf("cannot read console asset %q: %w", name, err)
		}
		s.files[name] = File{Name: name, ContentType: ct, Body: body}
	}
	var bundle bytes.Buffer
	for _, name := range Scripts {
		body, ok := scripts[name]
		if !ok {
			return nil, fmt.Errorf("console script %q is missing", name)
		}
		delete(scripts, name)
		fmt.Fprintf(&bundle, "// %s\n%s\n", name, body)
	}
	for name := range scripts {
		return nil, fmt.Errorf("console script %q is not in console.Scripts", name)
	}
	s.files[BundleName] = File{Name: BundleName, ContentType: contentTypes[".js"], Body: bundle.Bytes()}

	raw, err := assets.ReadFile("assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("cannot read the console page: %w", err)
	}
	tmpl, err := template.New("index.html").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			if _, ok := s.files[name]; !ok {
				return "", fmt.Errorf("the page names a missing asset %q", name)
			}
			return Prefix + "/" + name, nil
		},
		"sri": func(name string) (string, error) {
			f, ok := s.files[name]
			if !ok {
				return "", fmt.Errorf("the page names a missing asset %q", name)
			}
			sum := sha512.Sum384(f.Body)
			return "sha384-" + base64.StdEncoding.EncodeToString(sum[:]), nil
		},
	}).Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("cannot parse the console page: %w", err)
	}
	var page bytes.Buffer
	if err := tmpl.Execute(&page, nil); err != nil {
		return nil, fmt.Errorf("cannot render the console page: %w", err)
	}
	s.page = File{Name: "index.html", ContentType: "text/html; charset=utf-8", Body: page.Bytes()}
	return s, nil
}

// Page returns the console's HTML page.
func (s *Site) Page() File { return s.page }

// Asset returns the asset called name ("app.js"), if there is one.
func (s *Site) Asset(name string) (File, bool) {
	f, ok := s.files[name]
	return f, ok
}

// Files returns the page and every asset, by name: all a browser loads.
func (s *Site) Files() []File {
	out := []File{s.page}
	names := make([]string, 0, len(s.files))
	for n := range s.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, s.files[n])
	}
	return out
}

// Weight is the sum of the sizes, uncompressed, of everything Files returns.
func (s *Site) Weight() int {
	total := 0
	for _, f := range s.Files() {
		total += len(f.Body)
	}
	return total
}
