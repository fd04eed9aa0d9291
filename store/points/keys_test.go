package points

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"
)

// TestPointID checks the ids against their definition, hashed the plain way:
// an id, once answered, must never change.
func TestPointID(t *testing.T) {
	for _, tc := range []struct {
		source string
		ts     int64
	}{
		{srcA, 0}, {srcA, 1_764_000_000_123_456_789}, {srcB, -1}, {srcB, -1_500_000_000}, {srcA, math.MaxInt64}, {srcA, math.MinInt64},
		{"", 5}, {"a longer source id than any stored, past the 56 bytes that fit the stack buffer", 7},
	} {
		sec := tc.ts / 1e9
		if tc.ts%1e9 < 0 {
			sec--
		}
		h := sha256.New()
		h.Write([]byte(tc.source))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(tc.ts)))
		want := hex.EncodeToString(append(binary.BigEndian.AppendUint32(nil, uint32(sec)), h.Sum(nil)[:8]...))
		if got := PointID(tc.source, tc.ts); got != want {
			t.Errorf("PointID(%q, %d) = %s, want %s", tc.source, tc.ts, got, want)
		}
		if got := string(AppendPointID([]byte("x"), tc.source, tc.ts)); got != "x"+want {
			t.Errorf("AppendPointID(x, %q, %d) = %s", tc.source, tc.ts, got)
		}
	}
}
