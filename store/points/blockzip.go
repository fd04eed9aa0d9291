package points

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// Blocks are compressed by the writer, one stored value at a time, and
// Badger stores its tables uncompressed. Badger compressing its own 4 KiB
// table blocks cost memory and CPU out of proportion: a memtable flush
// held every table block twice (as built and compressed, 170–250 MiB of
// builder memory for a 64 MiB memtable), and every compaction decompressed
// and compressed the same points again. A value compressed once is carried
// by the WAL, the memtable, flushes and compactions as it is.
//
// A compressed block is stored in the segmented form's header: a zero
// byte, then a flags byte naming the codec, then the compressed bytes of a
// single block:
//
//	byte 0; byte flags (blockSnappy or blockZstd); compressed block
const (
	blockSnappy byte = 1 << 1
	blockZstd   byte = 1 << 2
	blockCodecs      = blockSnappy | blockZstd
)

// Blocks smaller than this are stored as they are: they hold a few points,
// and compressing them gains less than its header.
const minZipBlock = 96

// blockZip is the codec that blocks are stored with, as the store's
// Compression says: blockSnappy, blockZstd or 0 (none).
type blockZip byte

func newBlockZip(compression string) (blockZip, error) {
	switch compression {
	case "", "snappy":
		return blockZip(blockSnappy), nil
	case "zstd":
		return blockZip(blockZstd), nil
	case "none":
		return 0, nil
	}
	return 0, fmt.Errorf("points: unknown compression %q (want snappy, zstd or none)", compression)
}

// zstd's encoder and decoder serve concurrent calls of EncodeAll and
// DecodeAll (as many at once as there are cores); one of each serves the
// process.
var (
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithLowerEncoderMem(true))
	zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxPlainBlock))
)

// maxPlainBlock bounds what a stored block decompresses to, so that a
// crafted value cannot make a read allocate more; a larger block (an hour
// of many points with large metadata) is stored as it is.
const maxPlainBlock = 64 << 20

// seal appends plain's stored form to dst: compressed when that saves at
// least an eighth, as it is otherwise.
func (z blockZip) seal(dst, plain []byte) []byte {
	if z == 0 || len(plain) < minZipBlock || len(plain) > maxPlainBlock {
		return append(dst, plain...)
	}
	start := len(dst)
	dst = append(dst, segmentedBlock, byte(z))
	switch byte(z) {
	case blockSnappy:
		n := snappy.MaxEncodedLen(len(plain))
		dst = slices.Grow(dst, n)
		dst = dst[:len(dst)+len(snappy.Encode(dst[len(dst):len(dst)+n], plain))]
	case blockZstd:
		dst = zstdEncoder.EncodeAll(plain, dst)
	}
	if len(dst)-start > len(plain)-len(plain)/8 {
		return append(dst[:start], plain...)
	}
	return dst
}

// isZipped reports whether src is a compressed block.
func isZipped(src []byte) bool {
	return len(src) > 1 && src[0] == segmentedBlock && src[1]&blockCodecs != 0
}

// unzipBlock appends the block src holds, compressed, to dst.
func unzipBlock(dst, src []byte) ([]byte, error) {
	flags, body := src[1], src[2:]
	switch flags {
	case blockSnappy:
		n, err := snappy.DecodedLen(body)
		if err != nil || n > maxPlainBlock {
			return nil, errCorrupt
		}
		dst = slices.Grow(dst, n)
		out, err := snappy.Decode(dst[len(dst):len(dst)+n], body)
		if err != nil {
			return nil, errCorrupt
		}
		return dst[:len(dst)+len(out)], nil
	case blockZstd:
		out, err := zstdDecoder.DecodeAll(body, dst)
		if err != nil {
			return nil, errCorrupt
		}
		return out, nil
	}
	return nil, errCorrupt
}
