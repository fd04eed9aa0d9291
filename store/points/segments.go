package points

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// hourSegments keeps a cached hour as the encodings of the pieces its
// points were written in, so that folding the hour can store those
// encodings back to back, as a segmented block, instead of encoding every
// point again (see segmentedBlock).
//
// Concurrent clients deliver a source's batches out of order, and a group
// commit joins the batches it holds into one piece, so pieces often span
// overlapping times without sharing a point; they still fold as segments,
// which reads then sort. Only a piece that replaced a point, or many small
// pieces, whose repeated block headers would cost more disk than they save
// CPU, make the fold encode the hour's merged points.
type hourSegments struct {
	known    bool // false: the hour's points are not all in segs (read back from disk)
	replaced bool // a piece replaced a point of an earlier one
	enc      []byte
	segs     []segmentRef
}

// segmentRef is one piece's encoding in enc and the times it spans.
type segmentRef struct {
	first, last int64
	start, end  int
}

// minSegmentPoints is the fewest points a segment must hold on average for
// an hour to be stored as its segments: each segment repeats a block's
// header (first time, field names, first values), which many small
// pieces would multiply (at 26 points a segment, a sensor hour takes 12%
// more disk after compression than encoded whole; at 10, 33%).
const minSegmentPoints = 16

// newHourSegments returns the segments of a new, empty hour, with room for
// as many bytes as like, the previous hour's segments, if any.
func newHourSegments(like *hourSegments) hourSegments {
	s := hourSegments{known: true}
	if like != nil && like.known {
		s.enc = make([]byte, 0, len(like.enc))
		s.segs = make([]segmentRef, 0, len(like.segs))
	}
	return s
}

// add records a piece just written: its encoding, its points' first and
// last times, and whether it replaced any point.
func (s *hourSegments) add(enc []byte, first, last int64, replaced bool) {
	if !s.known || s.replaced {
		return
	}
	if replaced {
		s.replaced, s.enc, s.segs = true, nil, nil
		return
	}
	start := len(s.enc)
	s.enc = append(s.enc, enc...)
	s.segs = append(s.segs, segmentRef{first: first, last: last, start: start, end: len(s.enc)})
}

// appendBlock appends the hour, of points points, as a segmented block, and
// reports false, appending nothing, when its segments cannot make one.
func (s *hourSegments) appendBlock(dst []byte, points int) ([]byte, bool) {
	if !s.known || s.replaced || len(s.segs) == 0 || len(s.segs)*minSegmentPoints > points {
		return dst, false
	}
	slices.SortFunc(s.segs, func(a, b segmentRef) int { return cmp.Compare(a.first, b.first) })
	flags := segmentsInOrder
	for i := 1; i < len(s.segs); i++ {
		if s.segs[i].first <= s.segs[i-1].last {
			flags = 0
			break
		}
	}
	dst = append(dst, segmentedBlock, flags)
	for _, r := range s.segs {
		dst = appendSegment(dst, s.enc[r.start:r.end])
	}
	return dst, true
}

// restart makes whole, the hour just encoded as one block, its only
// segment. It copies whole into memory of its own: a copy of the hour
// (compactHour's) must not write into the segments of the original.
func (s *hourSegments) restart(whole []byte, first, last int64) {
	*s = hourSegments{known: true, enc: slices.Clone(whole), segs: []segmentRef{{first: first, last: last, end: len(whole)}}}
}

// appendSegment appends seg, a single block's encoding, to a segmented
// block.
func appendSegment(dst, seg []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(seg)))
	return append(dst, seg...)
}
