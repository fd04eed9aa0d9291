package backupfile

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// sample is a small valid file: header, metadata, two points frames.
func sample(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	batch := []byte{1, 2, 0xaa, 0xbb} // version 1, two points (content unchecked here)
	for _, err := range []error{
		w.JSON(KindHeader, Header{Format: Format}),
		w.Frame(KindMetadata, []byte(`{"orgs":[]}`)),
		w.Points("65a4f0c2a1b2c3d4e5000001", batch),
		w.Points("65a4f0c2a1b2c3d4e5000001", batch),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(b []byte) (Trailer, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return Trailer{}, err
	}
	for {
		if _, _, err := r.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				t, _ := r.Trailer()
				return t, nil
			}
			return Trailer{}, err
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tr, err := readAll(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Frames != 4 || tr.Batches != 2 || tr.Points != 4 {
		t.Fatalf("trailer %+v", tr)
	}
}

// TestDamageIsRefused: every truncation and every flipped byte is an error.
func TestDamageIsRefused(t *testing.T) {
	whole := sample(t)
	for n := range len(whole) {
		if _, err := readAll(whole[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(whole))
		}
	}
	for i := range whole {
		b := bytes.Clone(whole)
		b[i] ^= 0x01
		if _, err := readAll(b); err == nil {
			t.Fatalf("byte %d flipped: no error", i)
		}
	}
	if _, err := readAll(append(bytes.Clone(whole), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v, want ErrCorrupt", err)
	}
	if _, err := readAll(whole[:len(whole)-20]); !errors.Is(err, ErrTruncated) {
		t.Fatalf("cut in the trailer: %v, want ErrTruncated", err)
	}
}

func TestErrorFrame(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf)
	_ = w.JSON(KindHeader, Header{Format: Format})
	_ = w.JSON(KindError, map[string]string{"error": "replica gone"})
	if _, err := readAll(buf.Bytes()); !errors.Is(err, ErrFailed) {
		t.Fatalf("error frame: %v, want ErrFailed", err)
	}
}
