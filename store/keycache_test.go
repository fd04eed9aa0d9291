package store

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestPrincipalRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 255)
	tests := []struct {
		name string
		p    Principal
	}{
		{"write key", Principal{KeyID: "65a4f0c2a1b2c3d4e5000001", OrgID: "65a4f0c2a1b2c3d4e5000002", BucketID: "65a4f0c2a1b2c3d4e5000003", Type: KeyWrite}},
		{"read key", Principal{KeyID: "k", OrgID: "o", BucketID: "b", Type: KeyRead}},
		{"admin key has no bucket", Principal{KeyID: "65a4f0c2a1b2c3d4e5000001", OrgID: "65a4f0c2a1b2c3d4e5000002", Type: KeyAdmin}},
		{"zero", Principal{}},
		{"longest fields", Principal{KeyID: long, OrgID: long, BucketID: long, Type: KeyType(long)}},
		{"bytes that look like lengths", Principal{KeyID: "\x05\x00\xff", OrgID: "\x00", BucketID: "é✓", Type: "\x03abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodePrincipal(tt.p)
			got, ok := decodePrincipal(b)
			if !ok || got != tt.p {
				t.Fatalf("decode(encode(%+v)) = %+v, %v", tt.p, got, ok)
			}
		})
	}
}

func TestDecodePrincipalRefusesTruncated(t *testing.T) {
	full := encodePrincipal(Principal{KeyID: "key", OrgID: "org", BucketID: "bucket", Type: KeyWrite})
	for n := range len(full) {
		if p, ok := decodePrincipal(full[:n]); ok {
			t.Fatalf("decodePrincipal(%q) = %+v, true; want refused", full[:n], p)
		}
	}
}

// FuzzDecodePrincipal feeds arbitrary cache records to the decoder: it must
// never panic, and what it accepts is exactly the prefix it would encode.
func FuzzDecodePrincipal(f *testing.F) {
	f.Add(encodePrincipal(Principal{KeyID: "65a4f0c2a1b2c3d4e5000001", OrgID: "65a4f0c2a1b2c3d4e5000002", BucketID: "65a4f0c2a1b2c3d4e5000003", Type: KeyWrite}))
	f.Add(encodePrincipal(Principal{KeyID: "k", OrgID: "o", Type: KeyAdmin}))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{255})
	f.Add([]byte{1, 'a', 200, 'b'})
	f.Add(append(encodePrincipal(Principal{Type: KeyRead}), "trailing"...))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := decodePrincipal(b)
		if !ok {
			if p != (Principal{}) {
				t.Fatalf("refused record decoded to %+v", p)
			}
			return
		}
		enc := encodePrincipal(p)
		if !bytes.HasPrefix(b, enc) {
			t.Fatalf("decodePrincipal(%q) = %+v, which encodes to %q, not a prefix of the input", b, p, enc)
		}
		if again, ok := decodePrincipal(enc); !ok || again != p {
			t.Fatalf("re-encoded record decodes to %+v, %v; want %+v", again, ok, p)
		}
	})
}

func TestAuthenticateCache(t *testing.T) {
	f := newFixture(t)
	k := f.writeA1
	want := Principal{KeyID: k.ID, OrgID: f.orgA.ID, BucketID: f.a1.ID, Type: KeyWrite}

	if _, ok := f.s.keys.get(k.Hash); ok {
		t.Fatal("key cached before its first use")
	}
	if p, ok := f.s.Authenticate(k.Hash); !ok || p != want {
		t.Fatalf("Authenticate = %+v, %v; want %+v", p, ok, want)
	}
	if p, ok := f.s.keys.get(k.Hash); !ok || p != want {
		t.Fatalf("after a miss the cache holds %+v, %v; want %+v", p, ok, want)
	}
	if p, ok := f.s.Authenticate(k.Hash); !ok || p != want {
		t.Fatalf("Authenticate (hit) = %+v, %v; want %+v", p, ok, want)
	}

	t.Run("misses are not cached", func(t *testing.T) {
		nk := f.keyRec(f.orgA.ID, f.a1.ID, KeyRead)
		if _, ok := f.s.Authenticate(nk.Hash); ok {
			t.Fatal("unknown key authenticates")
		}
		mustOK(t, f.s.ApplyCreateKey(CreateKey{Key: nk}))
		if _, ok := f.s.Authenticate(nk.Hash); !ok {
			t.Fatal("a key that failed before it existed still fails after it was created")
		}
	})

	t.Run("delete evicts", func(t *testing.T) {
		_, err := f.s.ApplyDeleteKey(DeleteKey{OrgID: f.orgA.ID, BucketID: f.a1.ID, KeyID: k.ID})
		mustOK(t, err)
		if _, ok := f.s.keys.get(k.Hash); ok {
			t.Fatal("deleted key still cached")
		}
		if _, ok := f.s.Authenticate(k.Hash); ok {
			t.Fatal("deleted key authenticates")
		}
	})

	t.Run("restore resets", func(t *testing.T) {
		var before bytes.Buffer
		mustOK(t, WriteSnapshot(&before, f.s.Snapshot()))
		late := f.key(f.orgA.ID, f.a1.ID, KeyRead)
		if _, ok := f.s.Authenticate(late.Hash); !ok {
			t.Fatal("new key does not authenticate")
		}
		mustOK(t, f.s.Restore(&before))
		if _, ok := f.s.Authenticate(late.Hash); ok {
			t.Fatal("a key absent from the restored snapshot authenticates from the old cache")
		}
		if _, ok := f.s.Authenticate(f.readA1.Hash); !ok {
			t.Fatal("a key of the restored snapshot does not authenticate")
		}
	})
}

// TestDeleteWinsOverConcurrentFills: once ApplyDeleteKey has returned, no
// Authenticate that starts afterwards may succeed, however many lookups were
// filling the cache while the delete ran.
func TestDeleteWinsOverConcurrentFills(t *testing.T) {
	f := newFixture(t)
	for round := range 200 {
		k := f.key(f.orgA.ID, f.a1.ID, KeyWrite)
		var (
			deleted atomic.Bool
			stale   atomic.Int64
			wg      sync.WaitGroup
			stop    = make(chan struct{})
		)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					after := deleted.Load()
					if _, ok := f.s.Authenticate(k.Hash); ok && after {
						stale.Add(1)
					}
				}
			}()
		}
		_, err := f.s.ApplyDeleteKey(DeleteKey{OrgID: f.orgA.ID, BucketID: f.a1.ID, KeyID: k.ID})
		deleted.Store(true)
		// Let the readers run a little past the delete before stopping them.
		for range 100 {
			if _, ok := f.s.Authenticate(k.Hash); ok {
				stale.Add(1)
			}
		}
		close(stop)
		wg.Wait()
		mustOK(t, err)
		if n := stale.Load(); n > 0 {
			t.Fatalf("round %d: %d lookups succeeded after the delete returned", round, n)
		}
	}
}
