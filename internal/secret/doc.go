// Package secret makes API keys and operator tokens and hashes them for
// storage. Only hashes are ever stored; a plain secret exists in the response
// that created it and nowhere else.
package secret
