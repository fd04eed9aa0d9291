package peerrpc

import (
	"errors"

	"github.com/dakkio/dakkio/internal/objectid"
	"github.com/dakkio/dakkio/store/points"
)

// WriteKind is the first byte of a PathWrite body.
type WriteKind byte

// Kinds of replica write.
const (
	// WriteLive is a client's write (or its hint): the replica queues it
	// for alert evaluation.
	WriteLive WriteKind = 'w'
	// WriteHistory is a restore's: the points are history, which
	// triggers no rule.
	WriteHistory WriteKind = 'h'
)

// WriteRequest is a batch of points sent to a replica.
type WriteRequest struct {
	Kind     WriteKind
	BucketID string
	Points   []points.Point
}

// objectIDLen is the length of an id in hex.
const objectIDLen = 24

// EncodeWrite is the body of PathWrite: its kind, the bucket id, then the
// batch in points' wire form. Encode once, send to every replica.
func EncodeWrite(kind WriteKind, bucketID string, pts []points.Point) ([]byte, error) {
	return points.EncodeBatch(append([]byte{byte(kind)}, bucketID...), pts)
}

// DecodeWrite is the inverse of EncodeWrite; its errors are the sender's
// (a 400).
func DecodeWrite(body []byte) (WriteRequest, error) {
	if len(body) == 0 || (WriteKind(body[0]) != WriteLive && WriteKind(body[0]) != WriteHistory) {
		return WriteRequest{}, errors.New("unknown kind of replica write")
	}
	kind, body := WriteKind(body[0]), body[1:]
	if len(body) < objectIDLen || !objectid.Valid(string(body[:objectIDLen])) {
		return WriteRequest{}, errors.New("missing bucket id")
	}
	pts, err := points.DecodeBatch(body[objectIDLen:])
	if err != nil {
		return WriteRequest{}, err
	}
	return WriteRequest{Kind: kind, BucketID: string(body[:objectIDLen]), Points: pts}, nil
}
