package points

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Key layout. Every key starts with a one-byte table tag, then the bucket and
// source ids as 12 raw bytes each, then a time as 8 bytes big-endian with the
// sign bit flipped (so byte order is time order, negative times included):
//
//	'b' bucket source hour seq -> a block of points of that source in that hour
//	'r' bucket source hour     -> rollup of all the hour's points
//	'r' bucket source hour 0   -> (empty) the hour's rollup is stale
//
// The writer stores an hour's rollup only when it folds the hour's pieces
// into one block; meanwhile the hour carries a stale mark, written with its
// first piece since the last fold and deleted with the fold that stores the
// rollup. Readers summarize a marked hour from its blocks. The mark sorts
// right after the hour's rollup, so one scan over a source's rollups finds
// both.
// An hour's points arrive as several blocks (seq 0, 1, ... in write order; a
// later block's point replaces an earlier one at the same time) until the
// writer compacts them into one at seq 0.
//
// A query for one source over a time range is a single ordered range scan.
const (
	tagBlock  byte = 'b'
	tagRollup byte = 'r'

	idLen       = 12
	seriesLen   = 1 + 2*idLen // tag + bucket + source
	keyLen      = seriesLen + 8
	blockKeyLen = keyLen + 4
)

type id12 [idLen]byte

func parseID(s string) (id12, error) {
	var out id12
	if len(s) != 2*idLen {
		return out, fmt.Errorf("id %q: want %d hex characters", s, 2*idLen)
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return out, fmt.Errorf("id %q: %w", s, err)
	}
	return out, nil
}

func (i id12) String() string { return hex.EncodeToString(i[:]) }

// series names one source's points within a bucket.
type series struct {
	bucket, source id12
}

func (s series) prefix(tag byte) []byte {
	b := make([]byte, seriesLen, keyLen)
	b[0] = tag
	copy(b[1:], s.bucket[:])
	copy(b[1+idLen:], s.source[:])
	return b
}

func (s series) key(tag byte, ts int64) []byte {
	return binary.BigEndian.AppendUint64(s.prefix(tag), uint64(ts)^(1<<63))
}

// staleKey is the key of the hour's stale mark.
func (s series) staleKey(hour int64) []byte {
	return append(s.key(tagRollup, hour), staleSuffix)
}

// staleSuffix ends a stale mark's key: a rollup key one byte longer.
const staleSuffix byte = 0

// isStaleKey tells a stale mark's key from a rollup's.
func isStaleKey(k []byte) bool { return len(k) == keyLen+1 }

func (s series) blockKey(hour int64, seq uint32) []byte {
	return binary.BigEndian.AppendUint32(s.key(tagBlock, hour), seq)
}

// appendKey is key appended to dst, for callers that reuse a buffer.
func (s series) appendKey(dst []byte, tag byte, ts int64) []byte {
	dst = append(dst, tag)
	dst = append(dst, s.bucket[:]...)
	dst = append(dst, s.source[:]...)
	return binary.BigEndian.AppendUint64(dst, uint64(ts)^(1<<63))
}

// appendBlockKey is blockKey appended to dst.
func (s series) appendBlockKey(dst []byte, hour int64, seq uint32) []byte {
	return binary.BigEndian.AppendUint32(s.appendKey(dst, tagBlock, hour), seq)
}

func bucketPrefix(tag byte, bucket id12) []byte {
	return append([]byte{tag}, bucket[:]...)
}

func keyTime(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k[seriesLen:keyLen]) ^ (1 << 63))
}

func keySeries(k []byte) series {
	var s series
	copy(s.bucket[:], k[1:1+idLen])
	copy(s.source[:], k[1+idLen:seriesLen])
	return s
}

// PointID returns the _id of the point of source at ts: the point's second as
// four bytes (like an ObjectId) and eight bytes of a hash of the pair, so a
// rewrite of the same point has the same id.
func PointID(sourceID string, ts int64) string {
	var buf [24]byte
	return string(AppendPointID(buf[:0], sourceID, ts))
}

// AppendPointID appends PointID(sourceID, ts) to dst. A page of points
// writes one per point; this allocates nothing for a source's 24-character id.
func AppendPointID(dst []byte, sourceID string, ts int64) []byte {
	var in [64]byte
	hashed := append(in[:0], sourceID...)
	hashed = binary.BigEndian.AppendUint64(hashed, uint64(ts))
	sum := sha256.Sum256(hashed)
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(floorDiv(ts, 1e9)))
	copy(b[4:], sum[:8])
	return hex.AppendEncode(dst, b[:])
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
