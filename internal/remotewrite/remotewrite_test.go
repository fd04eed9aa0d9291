package remotewrite

import (
	"errors"
	"math"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

func encode(t testing.TB, req *prompb.WriteRequest) []byte {
	t.Helper()
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

func TestDecodeAndName(t *testing.T) {
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "job", Value: "node"}, {Name: "__name__", Value: "up"}, {Name: "instance", Value: "a:9100"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: 1000}, {Value: math.Float64frombits(StaleNaN), Timestamp: 2000}},
	}}}
	got, err := Decode(encode(t, req), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Name(got.Timeseries[0].Labels)
	if err != nil {
		t.Fatal(err)
	}
	if s.Field != "up" || s.Source != `{instance="a:9100",job="node"}` || len(s.Tags) != 2 || s.Tags["job"] != "node" {
		t.Fatalf("series = %+v", s)
	}
	if smp := got.Timeseries[0].Samples; Skip(smp[0].Value) || !Skip(smp[1].Value) {
		t.Fatalf("skip: %v %v", Skip(smp[0].Value), Skip(smp[1].Value))
	}
}

func TestDecodeRefuses(t *testing.T) {
	big := encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "__name__", Value: string(make([]byte, 4096))}}}}})
	if _, err := Decode(big, 1024); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := Decode([]byte("not snappy at all"), 1<<20); !errors.Is(err, ErrInvalid) {
		t.Errorf("not snappy: %v", err)
	}
	if _, err := Decode(snappy.Encode(nil, []byte{0xff, 0xff, 0xff}), 1<<20); !errors.Is(err, ErrInvalid) {
		t.Errorf("not protobuf: %v", err)
	}
	if _, err := Name([]prompb.Label{{Name: "job", Value: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no __name__: %v", err)
	}
	if _, err := Name([]prompb.Label{{Name: "__name__", Value: "x"}, {Name: "a", Value: "1"}, {Name: "a", Value: "2"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate label: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "n"}},
		Samples: []prompb.Sample{{Value: 1, Timestamp: 1}},
	}}}))
	f.Add([]byte{})
	f.Add(snappy.Encode(nil, []byte{0x0a, 0x02, 0x0a, 0x00}))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Decode(body, 1<<20)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, ts := range req.Timeseries {
			s, err := Name(ts.Labels)
			if err != nil {
				continue
			}
			if s.Field == "" || s.Source[0] != '{' || s.Source[len(s.Source)-1] != '}' {
				t.Fatalf("bad series %+v", s)
			}
		}
	})
}
