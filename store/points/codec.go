package points

import (
	"encoding/binary"
	"errors"
	"math"
)

var errCorrupt = errors.New("corrupt point encoding")

// Value encoding tags. Numbers that are short decimals (sensor readings such
// as 21.37) are stored as a zig-zag varint mantissa and a decimal scale, which
// takes 2–4 bytes instead of 8 and decodes to the identical float64: m/10^k
// of two exactly representable numbers is correctly rounded, as is parsing
// the decimal text, so both give the nearest float64 to the same decimal.
const (
	encFloat  byte = 0x01 // 8 bytes IEEE 754
	encString byte = 0x02 // uvarint length, bytes
	encFalse  byte = 0x03
	encTrue   byte = 0x04
	encScaled byte = 0x10 // | scale (0..15), then zig-zag varint mantissa
)

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

const maxExact = 1 << 53

func appendNumber(b []byte, f float64) []byte {
	for k := 0; k < len(pow10); k++ {
		m := math.Round(f * pow10[k])
		if math.Abs(m) >= maxExact {
			break
		}
		if m/pow10[k] == f && !(f == 0 && math.Signbit(f)) {
			b = append(b, encScaled|byte(k))
			return binary.AppendVarint(b, int64(m))
		}
	}
	b = append(b, encFloat)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

func appendValue(b []byte, v *Value) []byte {
	switch v.Kind {
	case KindNumber:
		return appendNumber(b, v.Num)
	case KindString:
		b = append(b, encString)
		b = binary.AppendUvarint(b, uint64(len(v.Str)))
		return append(b, v.Str...)
	default:
		if v.Bool {
			return append(b, encTrue)
		}
		return append(b, encFalse)
	}
}

// decoder reads what encodePoint and the rollup encoder wrote.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) byte1() byte {
	b := d.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *decoder) value(v *Value) {
	tag := d.byte1()
	switch {
	case tag == encFloat:
		v.Kind, v.Num = KindNumber, math.Float64frombits(d.u64())
	case tag&0xF0 == encScaled:
		v.Kind, v.Num = KindNumber, float64(d.varint())/pow10[tag&0x0F]
	case tag == encString:
		v.Kind, v.Str = KindString, string(d.bytes(d.uvarint()))
	case tag == encTrue || tag == encFalse:
		v.Kind, v.Bool = KindBool, tag == encTrue
	default:
		if d.err == nil {
			d.err = errCorrupt
		}
	}
}
