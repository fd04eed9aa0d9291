package objectid

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

var (
	processRandom [5]byte
	counter       atomic.Uint32
)

func init() {
	// Identity of this process inside every id it makes; a failure here means
	// the OS has no entropy source, which nothing else could survive either.
	if _, err := rand.Read(processRandom[:]); err != nil {
		panic("objectid: cannot read random bytes: " + err.Error())
	}
	var c [4]byte
	_, _ = rand.Read(c[:])
	counter.Store(binary.BigEndian.Uint32(c[:]))
}

// New returns a fresh id whose time part is t.
func New(t time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(t.Unix()))
	copy(b[4:9], processRandom[:])
	c := counter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// Valid reports whether s is 24 lowercase hexadecimal characters.
func Valid(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
