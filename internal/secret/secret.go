package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// Key prefixes name the scope of an API key.
const (
	AdminPrefix = "dakkio_a_"
	WritePrefix = "dakkio_w_"
	ReadPrefix  = "dakkio_r_"
	// OperatorPrefix marks operator tokens, which are not API keys.
	OperatorPrefix = "dakkio_op_"
)

// RandomLen is the number of random characters after the prefix.
const RandomLen = 40

// DisplayPrefixLen is how many leading characters of a key are kept in the
// clear (keyPrefix) so that a user can tell keys apart.
const DisplayPrefixLen = 12

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// New returns prefix followed by RandomLen characters from a cryptographic
// source, drawn without modulo bias.
func New(prefix string) string {
	out := make([]byte, 0, len(prefix)+RandomLen)
	out = append(out, prefix...)
	var buf [64]byte
	for len(out) < len(prefix)+RandomLen {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("secret: cannot read random bytes: " + err.Error())
		}
		for _, b := range buf {
			// 248 = 4*62: bytes at or above it would favour the first letters.
			if b >= 248 {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == len(prefix)+RandomLen {
				break
			}
		}
	}
	return string(out)
}

// Hash returns the hex SHA-256 of a secret. Keys carry 238 bits of entropy, so
// a fast hash is enough: there is nothing to brute-force, and lookups stay O(1).
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// DisplayPrefix returns the part of a key that may be shown again.
func DisplayPrefix(key string) string {
	if len(key) < DisplayPrefixLen {
		return key
	}
	return key[:DisplayPrefixLen]
}

// WellFormed reports whether s looks like a key this server could have made:
// a known prefix and at least 32 characters from the key alphabet after it.
func WellFormed(s string) bool {
	var rest string
	switch {
	case len(s) > len(AdminPrefix) && (s[:len(AdminPrefix)] == AdminPrefix ||
		s[:len(WritePrefix)] == WritePrefix || s[:len(ReadPrefix)] == ReadPrefix):
		rest = s[len(AdminPrefix):]
	default:
		return false
	}
	if len(rest) < 32 || len(rest) > 256 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
