// Package backupfile reads and writes the file of `dakkio backup`: framed
// records (a header, the metadata snapshot, batches of points) closed by a
// trailer that counts them and holds a SHA-256 of every byte before it, so
// that a truncated or altered file is refused before anything is restored.
// The current format compresses the records with zstd as they are written;
// readers still take the first, uncompressed one.
package backupfile
