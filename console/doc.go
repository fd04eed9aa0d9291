// Package console holds the web console served at GET /console: a handful of
// hand-written HTML, CSS, JavaScript and SVG-drawing files, embedded in the
// binary, that drive the public API and the operator endpoints from the
// browser (buckets, sources, charts of queries, alert rules, keys, webhooks,
// organizations and the cluster).
//
// The package only prepares the files: it renders the page with the
// Subresource Integrity hash of each script and style sheet, and states the
// Content-Security-Policy they run under. httpapi serves them. Nothing is
// fetched from another origin, no script runs inline, and the page builds
// its DOM without HTML strings (Trusted Types are enforced), so a key typed
// into it can only ever be sent to this node.
package console
