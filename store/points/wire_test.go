package points

import (
	"bytes"
	"reflect"
	"testing"
)

func wireSample() []Point {
	return []Point{
		{SourceID: srcA, TS: -5, Values: []Value{num("t", 21.5), {Field: "s", Kind: KindString, Str: "ok"}, {Field: "b", Kind: KindBool, Bool: true}}, Metadata: []byte(`{"k":"v"}`)},
		{SourceID: srcB, TS: 1_700_000_000_123_456_789, Values: []Value{num("t", -0.25)}},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	pts := wireSample()
	b, err := EncodeBatch(nil, pts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, pts) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, pts)
	}
	for i := range b {
		if _, err := DecodeBatch(b[:i]); err == nil {
			t.Fatalf("a batch cut at %d of %d bytes decoded", i, len(b))
		}
	}
}

// FuzzDecodeBatch: any bytes decode without a panic, and what decodes
// encodes to bytes that decode and encode to the same bytes again (bytes,
// not values, are compared: a NaN is not equal to itself).
func FuzzDecodeBatch(f *testing.F) {
	b, _ := EncodeBatch(nil, wireSample())
	f.Add(b)
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, data []byte) {
		pts, err := DecodeBatch(data)
		if err != nil {
			return
		}
		again, err := EncodeBatch(nil, pts)
		if err != nil {
			return // a kind byte the encoder refuses
		}
		back, err := DecodeBatch(again)
		if err != nil {
			t.Fatalf("a re-encoded batch does not decode: %v", err)
		}
		third, err := EncodeBatch(nil, back)
		if err != nil || !bytes.Equal(third, again) {
			t.Fatalf("re-encoded batch differs: %v", err)
		}
	})
}
