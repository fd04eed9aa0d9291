package points

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The batch wire form carries points between nodes: a version byte, the
// point count, then per point its source id (12 bytes), time, metadata and
// values, each value its field name and the store's own value encoding
// (codec.go), lengths as uvarints. It costs a fraction of JSON's time on the
// replicated write path.
const batchVersion = 1

// Limits that bound what a decoder allocates for a hostile or corrupt body.
const (
	maxBatchPoints = 1 << 20
	maxWireValues  = 1 << 10
)

var errBadBatch = errors.New("malformed points batch")

// EncodeBatch appends the wire form of pts to dst.
func EncodeBatch(dst []byte, pts []Point) ([]byte, error) {
	dst = append(dst, batchVersion)
	dst = binary.AppendUvarint(dst, uint64(len(pts)))
	for i := range pts {
		p := &pts[i]
		id, err := parseID(p.SourceID)
		if err != nil {
			return nil, err
		}
		dst = append(dst, id[:]...)
		dst = binary.AppendVarint(dst, p.TS)
		dst = binary.AppendUvarint(dst, uint64(len(p.Metadata)))
		dst = append(dst, p.Metadata...)
		dst = binary.AppendUvarint(dst, uint64(len(p.Values)))
		for j := range p.Values {
			v := &p.Values[j]
			if v.Kind != KindNumber && v.Kind != KindString && v.Kind != KindBool {
				return nil, fmt.Errorf("value %q has unknown kind %d", v.Field, v.Kind)
			}
			dst = binary.AppendUvarint(dst, uint64(len(v.Field)))
			dst = append(dst, v.Field...)
			dst = appendValue(dst, v)
		}
	}
	return dst, nil
}

// DecodeBatch is the inverse of EncodeBatch. It never panics on bad input.
func DecodeBatch(src []byte) ([]Point, error) {
	d := decoder{b: src}
	if d.byte1() != batchVersion {
		return nil, fmt.Errorf("%w: unknown version", errBadBatch)
	}
	n := d.uvarint()
	if n > maxBatchPoints || n > uint64(len(src)) {
		return nil, fmt.Errorf("%w: %d points", errBadBatch, n)
	}
	pts := make([]Point, n)
	names := map[string]string{}
	for i := range pts {
		p := &pts[i]
		var id id12
		copy(id[:], d.bytes(idLen))
		p.SourceID = id.String()
		p.TS = d.varint()
		if md := d.bytes(d.uvarint()); len(md) > 0 {
			p.Metadata = append([]byte(nil), md...)
		}
		nv := d.uvarint()
		if nv > maxWireValues || nv > uint64(len(src)) {
			return nil, fmt.Errorf("%w: %d values", errBadBatch, nv)
		}
		p.Values = make([]Value, nv)
		for j := range p.Values {
			v := &p.Values[j]
			name := d.bytes(d.uvarint())
			if s, ok := names[string(name)]; ok {
				v.Field = s
			} else {
				v.Field = string(name)
				names[v.Field] = v.Field
			}
			d.value(v)
		}
		if d.err != nil {
			return nil, errBadBatch
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errBadBatch
	}
	return pts, nil
}
