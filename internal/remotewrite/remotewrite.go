package remotewrite

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// StaleNaN is the bit pattern of Prometheus' staleness marker: a sample
// saying the series ended, not a value.
const StaleNaN uint64 = 0x7ff0000000000002

// Decode unpacks a request body, refusing one whose decompressed size
// exceeds max.
func Decode(body []byte, max int) (*prompb.WriteRequest, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrInvalid, err)
	}
	if n > max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrInvalid, err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("%w: protobuf: %v", ErrInvalid, err)
	}
	return &req, nil
}

// Series is one time series of a request as dakkio stores it.
type Series struct {
	Field  string            // __name__
	Source string            // the other labels, sorted: {job="node",instance="a:9100"}
	Tags   map[string]string // the other labels
}

// Name maps a series' labels (sorted in place) to its field, source name
// and tags.
func Name(labels []prompb.Label) (Series, error) {
	slices.SortFunc(labels, func(a, b prompb.Label) int { return cmp.Compare(a.Name, b.Name) })
	var s Series
	src := make([]byte, 0, 64)
	src = append(src, '{')
	for i, l := range labels {
		if i > 0 && l.Name == labels[i-1].Name {
			return Series{}, fmt.Errorf("%w: duplicate label %q", ErrInvalid, l.Name)
		}
		if l.Name == "__name__" {
			s.Field = l.Value
			continue
		}
		if l.Name == "" {
			return Series{}, fmt.Errorf("%w: empty label name", ErrInvalid)
		}
		if s.Tags == nil {
			s.Tags = make(map[string]string, len(labels))
		}
		s.Tags[l.Name] = l.Value
		if len(src) > 1 {
			src = append(src, ',')
		}
		src = append(src, l.Name...)
		src = append(src, '=')
		src = strconv.AppendQuote(src, l.Value)
	}
	if s.Field == "" {
		return Series{}, fmt.Errorf("%w: series %s} has no __name__", ErrInvalid, src)
	}
	s.Source = string(append(src, '}'))
	return s, nil
}

// Skip reports whether a sample carries no value to store: a staleness
// marker, or any other NaN or infinity, which dakkio's numbers cannot hold.
func Skip(v float64) bool {
	return math.IsNaN(v) || math.IsInf(v, 0)
}
