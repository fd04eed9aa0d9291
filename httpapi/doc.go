// Package httpapi serves dakkio's public HTTP API on fasthttp: routing,
// authentication by API key or operator token, request validation, the JSON
// envelopes, and the mapping of errors to status codes. It holds no business
// rules: it reads through the Metadata interface and changes state only by
// proposing commands to the Applier, both declared here and provided by node.
package httpapi
