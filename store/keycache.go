package store

import (
	"github.com/VictoriaMetrics/fastcache"
)

// KeyCache maps key hashes to principals. fastcache keeps the entries off the
// Go heap in a few large buckets, so millions of keys cost the GC nothing and a
// lookup takes no lock of the State.
type KeyCache struct {
	c *fastcache.Cache
}

func newKeyCache(maxBytes int) *KeyCache {
	return &KeyCache{c: fastcache.New(maxBytes)}
}

// Record layout: type byte, then key, org and bucket ids, each length-prefixed.
func encodePrincipal(p Principal) []byte {
	b := make([]byte, 0, 4+len(p.KeyID)+len(p.OrgID)+len(p.BucketID)+len(p.Type))
	b = append(b, byte(len(p.Type)))
	b = append(b, p.Type...)
	for _, s := range []string{p.KeyID, p.OrgID, p.BucketID} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodePrincipal(b []byte) (Principal, bool) {
	var parts [4]string
	for i := range parts {
		if len(b) == 0 || int(b[0]) > len(b)-1 {
			return Principal{}, false
		}
		n := int(b[0])
		parts[i] = string(b[1 : 1+n])
		b = b[1+n:]
	}
	return Principal{Type: KeyType(parts[0]), KeyID: parts[1], OrgID: parts[2], BucketID: parts[3]}, true
}

func (k *KeyCache) get(hash string) (Principal, bool) {
	v, ok := k.c.HasGet(nil, []byte(hash))
	if !ok {
		return Principal{}, false
	}
	return decodePrincipal(v)
}

// set caches p unless a part is too long for the record's one-byte lengths
// (ids are 24 characters; anything longer is simply looked up each time).
func (k *KeyCache) set(hash string, p Principal) {
	for _, part := range []string{string(p.Type), p.KeyID, p.OrgID, p.BucketID} {
		if len(part) > 255 {
			return
		}
	}
	k.c.Set([]byte(hash), encodePrincipal(p))
}
func (k *KeyCache) del(hash string) { k.c.Del([]byte(hash)) }
func (k *KeyCache) reset()          { k.c.Reset() }
