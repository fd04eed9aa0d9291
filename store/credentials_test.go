package store

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

func TestAdminKeys(t *testing.T) {
	f := newFixture(t)
	second := f.key(f.orgA.ID, "", KeyAdmin)
	keys, total := f.s.AdminKeys(f.orgA.ID, 0, 100)
	if total != 2 || len(keys) != 2 || keys[0].ID != f.adminA.ID || keys[1].ID != second.ID {
		t.Fatalf("admin keys of A = %v (total %d), want the initial key then the second", keys, total)
	}
	if keys, total := f.s.AdminKeys(f.orgA.ID, 1, 1); total != 2 || len(keys) != 1 || keys[0].ID != second.ID {
		t.Fatalf("second page = %v (total %d)", keys, total)
	}
	if keys, _ := f.s.AdminKeys(f.orgB.ID, 0, 100); len(keys) != 1 || keys[0].ID != f.adminB.ID {
		t.Fatalf("admin keys of B = %v, want only its own", keys)
	}
}

func TestApplyDeleteAdminKey(t *testing.T) {
	tests := []struct {
		name string
		cmd  func(f *fixture) DeleteAdminKey
		want error
	}{
		{"unknown organization", func(f *fixture) DeleteAdminKey { return DeleteAdminKey{OrgID: f.id(), KeyID: f.adminA.ID} }, ErrNotFound},
		{"unknown key", func(f *fixture) DeleteAdminKey { return DeleteAdminKey{OrgID: f.orgA.ID, KeyID: f.id()} }, ErrNotFound},
		{"key of another organization", func(f *fixture) DeleteAdminKey { return DeleteAdminKey{OrgID: f.orgA.ID, KeyID: f.adminB.ID} }, ErrNotFound},
		{"bucket key", func(f *fixture) DeleteAdminKey { return DeleteAdminKey{OrgID: f.orgA.ID, KeyID: f.writeA1.ID} }, ErrNotFound},
		{"own key", func(f *fixture) DeleteAdminKey { return DeleteAdminKey{OrgID: f.orgA.ID, KeyID: f.adminA.ID} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			// Cached first: the delete must evict it.
			if _, ok := f.s.Authenticate(f.adminA.Hash); !ok {
				t.Fatal("admin key does not authenticate before the delete")
			}
			before := encoded(t, f.s)
			k, err := f.s.ApplyDeleteAdminKey(tt.cmd(f))
			wantKind(t, err, tt.want)
			if tt.want != nil {
				if encoded(t, f.s) != before {
					t.Fatal("a refused delete changed the state")
				}
				return
			}
			if k.ID != f.adminA.ID {
				t.Fatalf("deleted %v", k)
			}
			if _, ok := f.s.Authenticate(f.adminA.Hash); ok {
				t.Fatal("the revoked admin key still authenticates")
			}
			if _, ok := f.s.Authenticate(f.adminB.Hash); !ok {
				t.Fatal("the other organization's admin key no longer authenticates")
			}
			if keys, total := f.s.AdminKeys(f.orgA.ID, 0, 100); total != 0 || len(keys) != 0 {
				t.Fatalf("admin keys after the delete = %v", keys)
			}
		})
	}
}

func TestApplyRotateOperatorToken(t *testing.T) {
	f := newFixture(t)
	wantKind(t, f.s.ApplyRotateOperatorToken(RotateOperatorToken{}), ErrInvalid)
	wantKind(t, NewState(1<<20).ApplyRotateOperatorToken(RotateOperatorToken{TokenHash: "h"}), ErrInvalid)
	mustOK(t, f.s.ApplyRotateOperatorToken(RotateOperatorToken{TokenHash: "new-hash"}))
	if f.s.CheckOperatorToken("op-hash") || !f.s.CheckOperatorToken("new-hash") {
		t.Fatal("after rotation the old hash is accepted or the new one refused")
	}

	// A Raft snapshot keeps the rotated token and the revoked admin key out.
	_, err := f.s.ApplyDeleteAdminKey(DeleteAdminKey{OrgID: f.orgB.ID, KeyID: f.adminB.ID})
	mustOK(t, err)
	var buf bytes.Buffer
	mustOK(t, WriteSnapshot(&buf, f.s.Snapshot()))
	snapshotJSON := slices.Clone(buf.Bytes())
	restored := NewState(1 << 20)
	mustOK(t, restored.Restore(&buf))
	if restored.CheckOperatorToken("op-hash") || !restored.CheckOperatorToken("new-hash") {
		t.Fatal("a restored snapshot lost the rotated operator token")
	}
	if _, ok := restored.Authenticate(f.adminB.Hash); ok {
		t.Fatal("a restored snapshot brought back a revoked admin key")
	}

	// A backup restored into another (fresh) cluster keeps that cluster's
	// token, rotated or not: a backup never brings a token back.
	other := newWorld(t)
	other.bootstrap("other", "first-hash")
	mustOK(t, other.s.ApplyRotateOperatorToken(RotateOperatorToken{TokenHash: "other-rotated"}))
	mustOK(t, other.s.ApplyRestoreState(RestoreState{Snapshot: json.RawMessage(snapshotJSON)}))
	for _, h := range []string{"op-hash", "new-hash", "first-hash"} {
		if other.s.CheckOperatorToken(h) {
			t.Errorf("after restoring a backup the cluster accepts %s", h)
		}
	}
	if !other.s.CheckOperatorToken("other-rotated") {
		t.Error("after restoring a backup the cluster refuses its own rotated token")
	}
}
