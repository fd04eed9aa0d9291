// Package objectid makes and checks 24-character hex identifiers laid out like
// MongoDB ObjectIds: 4 bytes of Unix seconds, 5 random bytes fixed per process,
// and a 3-byte counter.
package objectid
