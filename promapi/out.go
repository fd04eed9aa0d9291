package promapi

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
)

type labelPair = labels.Label

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// appendLabels appends a label set as a JSON object.
func appendLabels(b []byte, l labels.Labels) []byte {
	b = append(b, '{')
	first := true
	l.Range(func(p labels.Label) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, p.Name)
		b = append(b, ':')
		b = appendString(b, p.Value)
	})
	return append(b, '}')
}

// appendSample appends [<seconds>,"<value>"] as Prometheus writes it.
func appendSample(b []byte, t int64, v float64) []byte {
	b = append(b, '[')
	b = strconv.AppendFloat(b, float64(t)/1000, 'f', -1, 64)
	b = append(b, `,"`...)
	switch {
	case math.IsInf(v, 1):
		b = append(b, "+Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	case math.IsNaN(v):
		b = append(b, "NaN"...)
	default:
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	return append(b, `"]`...)
}
