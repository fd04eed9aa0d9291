package store

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 15, 10, 30, 0, 123456789, time.UTC)

// world builds states through the apply methods, as the FSM would, with
// readable deterministic ids and key hashes.
type world struct {
	t      testing.TB
	s      *State
	seq    int
	hashes []string // every key hash ever created, live or deleted
}

func newWorld(t testing.TB) *world { return &world{t: t, s: NewState(1 << 20)} }

func (w *world) id() string {
	w.seq++
	return fmt.Sprintf("%024x", w.seq)
}

func (w *world) keyRec(orgID, bucketID string, typ KeyType) APIKey {
	id := w.id()
	h := "hash-" + id
	w.hashes = append(w.hashes, h)
	return APIKey{ID: id, Name: "key " + id, Type: typ, Hash: h, KeyPrefix: "dakkio_x_" + id[21:], OrganizationID: orgID, BucketID: bucketID, CreatedAt: t0}
}

func (w *world) bootstrap(name, opHash string) (Org, APIKey) {
	w.t.Helper()
	o := Org{ID: w.id(), Name: name, Plan: PlanEnterprise, CreatedAt: t0, UpdatedAt: t0}
	k := w.keyRec(o.ID, "", KeyAdmin)
	mustOK(w.t, w.s.ApplyBootstrap(Bootstrap{Org: o, AdminKey: k, OperatorTokenHash: opHash}))
	return o, k
}

func (w *world) org(name string) (Org, APIKey) {
	w.t.Helper()
	o := Org{ID: w.id(), Name: name, Plan: PlanFree, CreatedAt: t0, UpdatedAt: t0}
	k := w.keyRec(o.ID, "", KeyAdmin)
	mustOK(w.t, w.s.ApplyCreateOrg(CreateOrg{Org: o, AdminKey: k}))
	return o, k
}

func (w *world) bucket(orgID, name, status string) Bucket {
	w.t.Helper()
	b := Bucket{ID: w.id(), Name: name, Description: "about " + name, OrganizationID: orgID, RetentionDays: 30, Status: status, CreatedAt: t0, UpdatedAt: t0}
	mustOK(w.t, w.s.ApplyCreateBucket(CreateBucket{Bucket: b}))
	return b
}

func (w *world) key(orgID, bucketID string, typ KeyType) APIKey {
	w.t.Helper()
	k := w.keyRec(orgID, bucketID, typ)
	mustOK(w.t, w.s.ApplyCreateKey(CreateKey{Key: k}))
	return k
}

func (w *world) sourceRec(b Bucket, name string) DataSource {
	return DataSource{
		ID: w.id(), BucketID: b.ID, OrganizationID: b.OrganizationID, Name: name, Type: "sensor",
		Schema:       map[string]Field{"temperature": {Type: "number", Unit: "C"}, "ok": {Type: "boolean"}},
		Downsampling: true, Status: "active", CreatedAt: t0, UpdatedAt: t0,
	}
}

func (w *world) source(b Bucket, name string) DataSource {
	w.t.Helper()
	src := w.sourceRec(b, name)
	mustOK(w.t, w.s.ApplyCreateSource(CreateSource{Source: src}))
	return src
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantKind checks that err is a business *Error of the given kind with a
// message for the user.
func wantKind(t testing.TB, err, kind error) {
	t.Helper()
	if kind == nil {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, kind) {
		t.Fatalf("got error %#v, want a *store.Error of kind %v", err, kind)
	}
	if se.Message == "" || err.Error() != se.Message {
		t.Fatalf("error %#v has no usable message", err)
	}
}

// encoded is the state as WriteSnapshot writes it: equal bytes mean equal state.
func encoded(t testing.TB, s *State) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, s.Snapshot()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// fixture is two organizations: A with an active bucket (a write key, a
// source) and an archived one, B with one bucket.
type fixture struct {
	*world
	orgA, orgB           Org
	adminA, adminB       APIKey
	a1, a2, b1           Bucket
	writeA1, readA1, wB1 APIKey
	srcA1                DataSource
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{world: newWorld(t)}
	f.orgA, f.adminA = f.bootstrap("alpha", "op-hash")
	f.orgB, f.adminB = f.org("beta")
	f.a1 = f.bucket(f.orgA.ID, "weather", BucketActive)
	f.a2 = f.bucket(f.orgA.ID, "old", BucketArchived)
	f.b1 = f.bucket(f.orgB.ID, "weather", BucketActive)
	f.writeA1 = f.key(f.orgA.ID, f.a1.ID, KeyWrite)
	f.readA1 = f.key(f.orgA.ID, f.a1.ID, KeyRead)
	f.wB1 = f.key(f.orgB.ID, f.b1.ID, KeyWrite)
	f.srcA1 = f.source(f.a1, "station-1")
	return f
}

func ptr[T any](v T) *T { return &v }

func TestBootstrap(t *testing.T) {
	w := newWorld(t)
	if w.s.Initialized() {
		t.Fatal("fresh state is initialized")
	}
	for _, h := range []string{"", "op-hash"} {
		if w.s.CheckOperatorToken(h) {
			t.Fatalf("fresh state accepts operator token hash %q", h)
		}
	}
	org, admin := w.bootstrap("default", "op-hash")
	if !w.s.Initialized() {
		t.Fatal("not initialized after Bootstrap")
	}
	if !w.s.CheckOperatorToken("op-hash") {
		t.Fatal("operator token refused")
	}
	for _, h := range []string{"", "op-has", "op-hash2", "OP-HASH"} {
		if w.s.CheckOperatorToken(h) {
			t.Fatalf("wrong operator token hash %q accepted", h)
		}
	}
	p, ok := w.s.Authenticate(admin.Hash)
	if want := (Principal{KeyID: admin.ID, OrgID: org.ID, Type: KeyAdmin}); !ok || p != want {
		t.Fatalf("Authenticate(admin) = %+v, %v; want %+v", p, ok, want)
	}

	before := encoded(t, w.s)
	again := Bootstrap{
		Org:               Org{ID: w.id(), Name: "other", Plan: PlanFree},
		AdminKey:          w.keyRec("x", "", KeyAdmin),
		OperatorTokenHash: "other-hash",
	}
	wantKind(t, w.s.ApplyBootstrap(again), ErrAlreadyInitialized)
	if encoded(t, w.s) != before {
		t.Fatal("a refused second Bootstrap changed the state")
	}
	if _, ok := w.s.Authenticate(again.AdminKey.Hash); ok {
		t.Fatal("second Bootstrap's admin key authenticates")
	}
}

// TestApplyRules runs each command against a fresh fixture and checks its
// result; a refused command must leave the state exactly as it was.
func TestApplyRules(t *testing.T) {
	tests := []struct {
		name  string
		apply func(f *fixture) error
		want  error
	}{
		// Organizations.
		{"org name taken", func(f *fixture) error {
			return f.s.ApplyCreateOrg(CreateOrg{Org: Org{ID: f.id(), Name: "beta"}, AdminKey: f.keyRec("", "", KeyAdmin)})
		}, ErrConflict},
		{"org id taken", func(f *fixture) error {
			return f.s.ApplyCreateOrg(CreateOrg{Org: Org{ID: f.orgB.ID, Name: "gamma"}, AdminKey: f.keyRec(f.orgB.ID, "", KeyAdmin)})
		}, ErrConflict},
		{"update unknown org", func(f *fixture) error {
			_, err := f.s.ApplyUpdateOrg(UpdateOrg{ID: f.id(), Plan: ptr(PlanPro), At: t0})
			return err
		}, ErrNotFound},
		{"rename org to a taken name", func(f *fixture) error {
			_, err := f.s.ApplyUpdateOrg(UpdateOrg{ID: f.orgA.ID, Name: ptr("beta"), At: t0})
			return err
		}, ErrConflict},
		{"rename org to its own name", func(f *fixture) error {
			_, err := f.s.ApplyUpdateOrg(UpdateOrg{ID: f.orgA.ID, Name: ptr("alpha"), At: t0})
			return err
		}, nil},

		// Buckets.
		{"bucket name taken in org", func(f *fixture) error {
			return f.s.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: f.id(), Name: "weather", OrganizationID: f.orgA.ID}})
		}, ErrConflict},
		{"archived bucket's name is taken too", func(f *fixture) error {
			return f.s.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: f.id(), Name: "old", OrganizationID: f.orgA.ID}})
		}, ErrConflict},
		{"bucket name free in org", func(f *fixture) error {
			return f.s.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: f.id(), Name: "old", OrganizationID: f.orgB.ID}})
		}, nil},
		{"bucket names are case sensitive", func(f *fixture) error {
			return f.s.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: f.id(), Name: "Weather", OrganizationID: f.orgA.ID}})
		}, nil},
		{"bucket id taken", func(f *fixture) error {
			return f.s.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: f.b1.ID, Name: "new", OrganizationID: f.orgA.ID}})
		}, ErrConflict},
		{"bucket in unknown org", func(f *fixture) error {
			return f.s.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: f.id(), Name: "new", OrganizationID: f.id()}})
		}, ErrNotFound},
		{"update unknown bucket", func(f *fixture) error {
			_, err := f.s.ApplyUpdateBucket(UpdateBucket{OrgID: f.orgA.ID, ID: f.id(), Name: ptr("x"), At: t0})
			return err
		}, ErrNotFound},
		{"update other org's bucket", func(f *fixture) error {
			_, err := f.s.ApplyUpdateBucket(UpdateBucket{OrgID: f.orgA.ID, ID: f.b1.ID, Name: ptr("x"), At: t0})
			return err
		}, ErrNotFound},
		{"rename bucket to a taken name", func(f *fixture) error {
			_, err := f.s.ApplyUpdateBucket(UpdateBucket{OrgID: f.orgA.ID, ID: f.a1.ID, Name: ptr("old"), Description: ptr("changed"), At: t0})
			return err
		}, ErrConflict},
		{"rename bucket to a name taken in another org", func(f *fixture) error {
			_, err := f.s.ApplyUpdateBucket(UpdateBucket{OrgID: f.orgA.ID, ID: f.a2.ID, Name: ptr("weather2"), At: t0})
			return err
		}, nil},
		{"delete unknown bucket", func(f *fixture) error {
			_, err := f.s.ApplyDeleteBucket(DeleteBucket{OrgID: f.orgA.ID, ID: f.id()})
			return err
		}, ErrNotFound},
		{"delete other org's bucket", func(f *fixture) error {
			_, err := f.s.ApplyDeleteBucket(DeleteBucket{OrgID: f.orgA.ID, ID: f.b1.ID})
			return err
		}, ErrNotFound},

		// Keys.
		{"key hash taken", func(f *fixture) error {
			k := f.keyRec(f.orgA.ID, f.a1.ID, KeyRead)
			k.Hash = f.wB1.Hash
			return f.s.ApplyCreateKey(CreateKey{Key: k})
		}, ErrConflict},
		{"admin key hash taken", func(f *fixture) error {
			k := f.keyRec(f.orgA.ID, "", KeyAdmin)
			k.Hash = f.adminB.Hash
			return f.s.ApplyCreateKey(CreateKey{Key: k})
		}, ErrConflict},
		{"key in unknown org", func(f *fixture) error {
			return f.s.ApplyCreateKey(CreateKey{Key: f.keyRec(f.id(), "", KeyAdmin)})
		}, ErrNotFound},
		{"key for unknown bucket", func(f *fixture) error {
			return f.s.ApplyCreateKey(CreateKey{Key: f.keyRec(f.orgA.ID, f.id(), KeyWrite)})
		}, ErrNotFound},
		{"key for other org's bucket", func(f *fixture) error {
			return f.s.ApplyCreateKey(CreateKey{Key: f.keyRec(f.orgA.ID, f.b1.ID, KeyRead)})
		}, ErrNotFound},
		{"another admin key", func(f *fixture) error {
			return f.s.ApplyCreateKey(CreateKey{Key: f.keyRec(f.orgB.ID, "", KeyAdmin)})
		}, nil},
		{"delete key of unknown bucket", func(f *fixture) error {
			_, err := f.s.ApplyDeleteKey(DeleteKey{OrgID: f.orgA.ID, BucketID: f.id(), KeyID: f.writeA1.ID})
			return err
		}, ErrNotFound},
		{"delete unknown key", func(f *fixture) error {
			_, err := f.s.ApplyDeleteKey(DeleteKey{OrgID: f.orgA.ID, BucketID: f.a1.ID, KeyID: f.id()})
			return err
		}, ErrNotFound},
		{"delete key through another bucket", func(f *fixture) error {
			_, err := f.s.ApplyDeleteKey(DeleteKey{OrgID: f.orgA.ID, BucketID: f.a2.ID, KeyID: f.writeA1.ID})
			return err
		}, ErrNotFound},
		{"delete key through other org", func(f *fixture) error {
			_, err := f.s.ApplyDeleteKey(DeleteKey{OrgID: f.orgB.ID, BucketID: f.a1.ID, KeyID: f.writeA1.ID})
			return err
		}, ErrNotFound},
		{"delete admin key as bucket key", func(f *fixture) error {
			_, err := f.s.ApplyDeleteKey(DeleteKey{OrgID: f.orgA.ID, BucketID: f.a1.ID, KeyID: f.adminA.ID})
			return err
		}, ErrNotFound},

		// Data sources.
		{"source name taken in bucket", func(f *fixture) error {
			return f.s.ApplyCreateSource(CreateSource{Source: f.sourceRec(f.a1, "station-1")})
		}, ErrConflict},
		{"source name free in another bucket", func(f *fixture) error {
			return f.s.ApplyCreateSource(CreateSource{Source: f.sourceRec(f.b1, "station-1")})
		}, nil},
		{"source in archived bucket", func(f *fixture) error {
			return f.s.ApplyCreateSource(CreateSource{Source: f.sourceRec(f.a2, "station-9")})
		}, ErrConflict},
		{"source in unknown bucket", func(f *fixture) error {
			src := f.sourceRec(f.a1, "station-9")
			src.BucketID = f.id()
			return f.s.ApplyCreateSource(CreateSource{Source: src})
		}, ErrNotFound},
		{"source in other org's bucket", func(f *fixture) error {
			src := f.sourceRec(f.b1, "station-9")
			src.OrganizationID = f.orgA.ID
			return f.s.ApplyCreateSource(CreateSource{Source: src})
		}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			before := encoded(t, f.s)
			err := tt.apply(f)
			wantKind(t, err, tt.want)
			if err != nil && encoded(t, f.s) != before {
				t.Fatal("a refused command changed the state")
			}
			// No command here touches existing keys: they all still work.
			for _, k := range []APIKey{f.adminA, f.adminB, f.writeA1, f.readA1, f.wB1} {
				if _, ok := f.s.Authenticate(k.Hash); !ok {
					t.Fatalf("key %s stopped working", k.ID)
				}
			}
		})
	}
}

func TestCrossOrgReadsAreNotFound(t *testing.T) {
	f := newFixture(t)
	if _, err := f.s.Bucket(f.orgB.ID, f.a1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Bucket(other org) error = %v, want not found", err)
	}
	if b, err := f.s.Bucket(f.orgA.ID, f.a1.ID); err != nil || b != f.a1 {
		t.Fatalf("Bucket(own org) = %+v, %v", b, err)
	}
	if _, err := f.s.Source(f.b1.ID, f.srcA1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Source(other bucket) error = %v, want not found", err)
	}
	if _, err := f.s.Org(f.id()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Org(unknown) error = %v, want not found", err)
	}
	bs, total := f.s.Buckets(f.orgB.ID, 0, 100)
	if total != 1 || len(bs) != 1 || bs[0].ID != f.b1.ID {
		t.Fatalf("Buckets(orgB) = %+v (total %d), want only b1", bs, total)
	}
	if ks, total := f.s.Keys(f.b1.ID, 0, 100); total != 1 || ks[0].ID != f.wB1.ID {
		t.Fatalf("Keys(b1) = %+v (total %d)", ks, total)
	}
}

func TestDeleteBucketCascades(t *testing.T) {
	f := newFixture(t)
	extraKey := f.key(f.orgA.ID, f.a1.ID, KeyWrite)
	src2 := f.source(f.a1, "station-2")
	src3 := f.source(f.a1, "station-3")
	doomed := []APIKey{f.writeA1, f.readA1, extraKey}
	for _, k := range doomed {
		if _, ok := f.s.Authenticate(k.Hash); !ok { // fills the cache
			t.Fatalf("key %s does not work before the delete", k.ID)
		}
	}

	got, err := f.s.ApplyDeleteBucket(DeleteBucket{OrgID: f.orgA.ID, ID: f.a1.ID})
	mustOK(t, err)
	want := DeletedBucket{Bucket: f.a1, DataSources: 3, APIKeys: 3}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DeleteBucket = %+v, want %+v", got, want)
	}
	for _, k := range doomed {
		if p, ok := f.s.Authenticate(k.Hash); ok {
			t.Fatalf("key %s of the deleted bucket still authenticates as %+v", k.ID, p)
		}
	}
	if _, err := f.s.Bucket(f.orgA.ID, f.a1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted bucket: %v", err)
	}
	for _, src := range []DataSource{f.srcA1, src2, src3} {
		if _, err := f.s.Source(f.a1.ID, src.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("source %s of the deleted bucket: %v", src.ID, err)
		}
	}
	if s, k := f.s.BucketCounts(f.a1.ID); s != 0 || k != 0 {
		t.Fatalf("BucketCounts(deleted) = %d, %d", s, k)
	}
	if bs, total := f.s.Buckets(f.orgA.ID, 0, 100); total != 1 || bs[0].ID != f.a2.ID {
		t.Fatalf("Buckets after delete = %+v", bs)
	}
	// Other resources are untouched.
	for _, k := range []APIKey{f.adminA, f.adminB, f.wB1} {
		if _, ok := f.s.Authenticate(k.Hash); !ok {
			t.Fatalf("unrelated key %s stopped working", k.ID)
		}
	}
	// Names are free again, and a second delete is not found.
	again := f.bucket(f.orgA.ID, "weather", BucketActive)
	f.source(again, "station-1")
	_, err = f.s.ApplyDeleteBucket(DeleteBucket{OrgID: f.orgA.ID, ID: f.a1.ID})
	wantKind(t, err, ErrNotFound)
}

func TestUpdateBucket(t *testing.T) {
	f := newFixture(t)
	at := t0.Add(time.Hour)
	got, err := f.s.ApplyUpdateBucket(UpdateBucket{OrgID: f.orgA.ID, ID: f.a1.ID, Name: ptr("climate"), RetentionDays: ptr(90), At: at})
	mustOK(t, err)
	want := f.a1
	want.Name, want.RetentionDays, want.UpdatedAt = "climate", 90, at
	if got != want {
		t.Fatalf("UpdateBucket = %+v, want %+v (nil fields stay)", got, want)
	}
	if b, _ := f.s.Bucket(f.orgA.ID, f.a1.ID); b != want {
		t.Fatalf("stored bucket = %+v, want %+v", b, want)
	}
	// The old name is free, the new one is taken.
	f.bucket(f.orgA.ID, "weather", BucketActive)
	wantKind(t, f.s.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: f.id(), Name: "climate", OrganizationID: f.orgA.ID}}), ErrConflict)

	// Archiving makes the bucket refuse new sources; reactivating allows them.
	_, err = f.s.ApplyUpdateBucket(UpdateBucket{OrgID: f.orgA.ID, ID: f.a1.ID, Status: ptr(BucketArchived), At: at})
	mustOK(t, err)
	wantKind(t, f.s.ApplyCreateSource(CreateSource{Source: f.sourceRec(want, "station-2")}), ErrConflict)
	_, err = f.s.ApplyUpdateBucket(UpdateBucket{OrgID: f.orgA.ID, ID: f.a1.ID, Status: ptr(BucketActive), At: at})
	mustOK(t, err)
	f.source(want, "station-2")
}

func TestUpdateOrg(t *testing.T) {
	f := newFixture(t)
	at := t0.Add(time.Minute)
	got, err := f.s.ApplyUpdateOrg(UpdateOrg{ID: f.orgB.ID, Name: ptr("gamma"), At: at})
	mustOK(t, err)
	want := f.orgB
	want.Name, want.UpdatedAt = "gamma", at
	if got != want {
		t.Fatalf("UpdateOrg = %+v, want %+v", got, want)
	}
	got, err = f.s.ApplyUpdateOrg(UpdateOrg{ID: f.orgB.ID, Plan: ptr(PlanPro), At: at})
	mustOK(t, err)
	want.Plan = PlanPro
	if got != want {
		t.Fatalf("UpdateOrg(plan) = %+v, want %+v", got, want)
	}
	// "beta" is free again, "gamma" is taken.
	f.org("beta")
	wantKind(t, f.s.ApplyCreateOrg(CreateOrg{Org: Org{ID: f.id(), Name: "gamma"}, AdminKey: f.keyRec("", "", KeyAdmin)}), ErrConflict)
}

func TestReadsReturnCopies(t *testing.T) {
	f := newFixture(t)
	b, _ := f.s.Bucket(f.orgA.ID, f.a1.ID)
	b.Name = "mutated"
	bs, _ := f.s.Buckets(f.orgA.ID, 0, 10)
	bs[0].Name = "mutated"
	o, _ := f.s.Org(f.orgA.ID)
	o.Name = "mutated"
	ks, _ := f.s.Keys(f.a1.ID, 0, 10)
	ks[0].Hash = "mutated"
	if b, _ := f.s.Bucket(f.orgA.ID, f.a1.ID); b != f.a1 {
		t.Fatalf("bucket changed through a returned copy: %+v", b)
	}
	if o, _ := f.s.Org(f.orgA.ID); o != f.orgA {
		t.Fatalf("org changed through a returned copy: %+v", o)
	}
	if _, ok := f.s.Authenticate(f.writeA1.Hash); !ok {
		t.Fatal("key changed through a returned copy")
	}
}

func TestPages(t *testing.T) {
	w := newWorld(t)
	org, _ := w.bootstrap("default", "h")
	var ids []string
	for i := range 7 {
		ids = append(ids, w.bucket(org.ID, fmt.Sprintf("b%d", i), BucketActive).ID)
	}
	tests := []struct {
		name          string
		offset, limit int
		want          []string
	}{
		{"all", 0, 100, ids},
		{"first page", 0, 3, ids[:3]},
		{"middle page", 3, 3, ids[3:6]},
		{"last partial page", 6, 3, ids[6:]},
		{"offset at end", 7, 3, nil},
		{"offset past end", 1000, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total := w.s.Buckets(org.ID, tt.offset, tt.limit)
			if total != 7 {
				t.Fatalf("total = %d, want 7", total)
			}
			if got == nil {
				t.Fatal("page is nil, want an empty slice")
			}
			var gotIDs []string
			for _, b := range got {
				gotIDs = append(gotIDs, b.ID)
			}
			if !reflect.DeepEqual(gotIDs, tt.want) {
				t.Fatalf("ids = %v, want %v", gotIDs, tt.want)
			}
		})
	}
	if got, total := w.s.Buckets(w.id(), 0, 10); total != 0 || len(got) != 0 || got == nil {
		t.Fatalf("Buckets(unknown org) = %#v, %d", got, total)
	}
}

// reads is everything the read methods tell about a state.
type reads struct {
	Initialized bool
	Operator    bool
	Orgs        []Org
	Buckets     map[string][]Bucket
	Bucket      map[string]Bucket
	Keys        map[string][]APIKey
	Sources     map[string][]DataSource
	Source      map[string]DataSource
	Counts      map[string][2]int
	Principals  map[string]Principal
}

func readAll(t testing.TB, s *State, hashes []string, opHash string) reads {
	t.Helper()
	r := reads{
		Initialized: s.Initialized(), Operator: s.CheckOperatorToken(opHash),
		Buckets: map[string][]Bucket{}, Bucket: map[string]Bucket{}, Keys: map[string][]APIKey{},
		Sources: map[string][]DataSource{}, Source: map[string]DataSource{}, Counts: map[string][2]int{},
		Principals: map[string]Principal{},
	}
	r.Orgs, _ = s.Orgs(0, 1<<30)
	for _, o := range r.Orgs {
		if got, err := s.Org(o.ID); err != nil || got != o {
			t.Fatalf("Org(%s) = %+v, %v; Orgs says %+v", o.ID, got, err, o)
		}
		bs, _ := s.Buckets(o.ID, 0, 1<<30)
		r.Buckets[o.ID] = bs
		for _, b := range bs {
			got, err := s.Bucket(o.ID, b.ID)
			mustOK(t, err)
			r.Bucket[b.ID] = got
			r.Keys[b.ID], _ = s.Keys(b.ID, 0, 1<<30)
			srcs, _ := s.Sources(b.ID, 0, 1<<30)
			r.Sources[b.ID] = srcs
			for _, src := range srcs {
				got, err := s.Source(b.ID, src.ID)
				mustOK(t, err)
				r.Source[src.ID] = got
			}
			ns, nk := s.BucketCounts(b.ID)
			r.Counts[b.ID] = [2]int{ns, nk}
		}
	}
	for _, h := range hashes {
		if p, ok := s.Authenticate(h); ok {
			r.Principals[h] = p
		}
	}
	return r
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	f := newFixture(t)
	f.source(f.b1, "pump")
	f.key(f.orgB.ID, "", KeyAdmin)
	c, _ := f.org("gamma") // an org with no bucket
	_, err := f.s.ApplyUpdateBucket(UpdateBucket{OrgID: f.orgA.ID, ID: f.a1.ID, Name: ptr("renamed"), At: t0.Add(time.Second)})
	mustOK(t, err)
	doomed := f.bucket(c.ID, "doomed", BucketActive)
	f.key(c.ID, doomed.ID, KeyRead)
	_, err = f.s.ApplyDeleteBucket(DeleteBucket{OrgID: c.ID, ID: doomed.ID})
	mustOK(t, err)
	_, err = f.s.ApplyDeleteKey(DeleteKey{OrgID: f.orgA.ID, BucketID: f.a1.ID, KeyID: f.readA1.ID})
	mustOK(t, err)

	want := readAll(t, f.s, f.hashes, "op-hash")
	snap := f.s.Snapshot()

	// Snapshot is a point in time: later changes are not in it.
	f.bucket(f.orgA.ID, "after-snapshot", BucketActive)
	late := f.key(f.orgA.ID, f.a2.ID, KeyRead)

	var buf bytes.Buffer
	mustOK(t, WriteSnapshot(&buf, snap))
	restored := NewState(1 << 20)
	mustOK(t, restored.Restore(bytes.NewReader(buf.Bytes())))
	got := readAll(t, restored, f.hashes, "op-hash")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored state reads differently:\n got %+v\nwant %+v", got, want)
	}
	if _, ok := restored.Authenticate(late.Hash); ok {
		t.Fatal("a key created after the snapshot is in it")
	}
	if len(want.Principals) != 6 {
		t.Fatalf("fixture has %d live keys, want 6", len(want.Principals))
	}

	// Restoring into a state that has data replaces it wholly.
	mustOK(t, f.s.Restore(bytes.NewReader(buf.Bytes())))
	if got := readAll(t, f.s, f.hashes, "op-hash"); !reflect.DeepEqual(got, want) {
		t.Fatalf("state restored in place reads differently:\n got %+v\nwant %+v", got, want)
	}

	// The indexes were rebuilt: uniqueness and cascades still hold.
	rw := &world{t: t, s: restored, seq: f.seq + 100}
	wantKind(t, restored.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: rw.id(), Name: "renamed", OrganizationID: f.orgA.ID}}), ErrConflict)
	wantKind(t, restored.ApplyCreateBucket(CreateBucket{Bucket: Bucket{ID: f.b1.ID, Name: "fresh", OrganizationID: f.orgA.ID}}), ErrConflict)
	wantKind(t, restored.ApplyCreateOrg(CreateOrg{Org: Org{ID: rw.id(), Name: "gamma"}, AdminKey: rw.keyRec("", "", KeyAdmin)}), ErrConflict)
	wantKind(t, restored.ApplyCreateSource(CreateSource{Source: rw.sourceRec(f.a1, "station-1")}), ErrConflict)
	wantKind(t, restored.ApplyCreateKey(CreateKey{Key: APIKey{ID: rw.id(), Type: KeyAdmin, Hash: f.adminB.Hash, OrganizationID: f.orgA.ID}}), ErrConflict)
	rw.bucket(f.orgA.ID, "weather", BucketActive) // freed by the rename before the snapshot
	d, err := restored.ApplyDeleteBucket(DeleteBucket{OrgID: f.orgA.ID, ID: f.a1.ID})
	mustOK(t, err)
	if d.APIKeys != 1 || d.DataSources != 1 {
		t.Fatalf("DeleteBucket after restore = %+v, want 1 key and 1 source", d)
	}
	if _, ok := restored.Authenticate(f.writeA1.Hash); ok {
		t.Fatal("deleted key authenticates after restore")
	}
}

func TestRestoreRefusesBadSnapshots(t *testing.T) {
	tests := []struct {
		name, snap string
	}{
		{"not json", "garbage"},
		{"empty", ""},
		{"wrong shape", `{"orgs": {"a": 1}}`},
		{"duplicate org names", `{"initialized":true,"orgs":[{"_id":"000000000000000000000001","name":"a"},{"_id":"000000000000000000000002","name":"a"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			before := readAll(t, f.s, f.hashes, "op-hash")
			if err := f.s.Restore(strings.NewReader(tt.snap)); err == nil {
				t.Fatal("Restore accepted a bad snapshot")
			}
			if got := readAll(t, f.s, f.hashes, "op-hash"); !reflect.DeepEqual(got, before) {
				t.Fatal("a failed Restore changed the state")
			}
		})
	}
}

// A source read with SharedSource keeps the schema it was read with when the
// source is updated later: updates replace the maps, never change them.
func TestSharedSourceUnchangedByUpdate(t *testing.T) {
	w := newWorld(t)
	org, _ := w.bootstrap("default", "h")
	b := w.bucket(org.ID, "b", BucketActive)
	src := w.source(b, "probe")
	before, err := w.s.SharedSource(b.ID, src.ID)
	mustOK(t, err)
	fields := len(before.Schema)
	_, err = w.s.ApplyUpdateSource(UpdateSource{OrgID: org.ID, BucketID: b.ID, ID: src.ID, Schema: map[string]Field{"added": {Type: "string"}}, At: t0})
	mustOK(t, err)
	if _, ok := before.Schema["added"]; ok || len(before.Schema) != fields {
		t.Fatalf("schema read before the update changed: %v", before.Schema)
	}
	after, err := w.s.SharedSource(b.ID, src.ID)
	mustOK(t, err)
	if _, ok := after.Schema["added"]; !ok || len(after.Schema) != fields+1 {
		t.Fatalf("schema after the update = %v, want the added field", after.Schema)
	}
	if _, err := w.s.SharedSource("650000000000000000000099", src.ID); err == nil {
		t.Fatal("a source found through another bucket")
	}
	byName, err := w.s.SharedSourceByName(b.ID, "probe")
	mustOK(t, err)
	if byName.ID != src.ID || !reflect.DeepEqual(byName.Schema, after.Schema) {
		t.Fatalf("SharedSourceByName = %+v, want the source as SharedSource reads it", byName)
	}
	if _, err := w.s.SharedSourceByName("650000000000000000000099", "probe"); err == nil {
		t.Fatal("a source found by name through another bucket")
	}
}
