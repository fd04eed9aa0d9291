package backupfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

// sample is a small valid file: header, metadata, two points frames.
func sample(t testing.TB) []byte { return sampleFormat(t, Format) }

func sampleFormat(t testing.TB, format int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriterFormat(&buf, format)
	if err != nil {
		t.Fatal(err)
	}
	batch := []byte{1, 2, 0xaa, 0xbb} // version 1, two points (content unchecked here)
	for _, err := range []error{
		w.JSON(KindHeader, Header{Format: format}),
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
	t, _, err := readFrames(b)
	return t, err
}

// readFrames reads a whole file and returns its trailer and its frames,
// each as its kind then its payload.
func readFrames(b []byte) (Trailer, [][]byte, error) {
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return Trailer{}, nil, err
	}
	defer r.Close()
	var frames [][]byte
	for {
		kind, payload, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				t, _ := r.Trailer()
				if r.Offset() != int64(len(b)) {
					return t, nil, fmt.Errorf("offset %d at the end of a %d-byte file", r.Offset(), len(b))
				}
				return t, frames, nil
			}
			return Trailer{}, nil, err
		}
		frames = append(frames, append([]byte{kind}, payload...))
	}
}

func TestRoundTrip(t *testing.T) {
	for _, format := range []int{Format, FormatUncompressed} {
		tr, err := readAll(sampleFormat(t, format))
		if err != nil {
			t.Fatalf("format %d: %v", format, err)
		}
		if tr.Frames != 4 || tr.Batches != 2 || tr.Points != 4 {
			t.Fatalf("format %d: trailer %+v", format, tr)
		}
	}
}

// TestDamageIsRefused: every truncation and every flipped byte is an
// error, in either format. In a compressed file a few bits of the zstd
// frame header (such as the window size) may change without changing a
// byte of the content the checksum covers: those read back identical.
func TestDamageIsRefused(t *testing.T) {
	for _, format := range []int{Format, FormatUncompressed} {
		t.Run(fmt.Sprint("format ", format), func(t *testing.T) { checkDamage(t, format) })
	}
}

func checkDamage(t *testing.T, format int) {
	whole := sampleFormat(t, format)
	_, want, err := readFrames(whole)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(whole) {
		if _, err := readAll(whole[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", n, len(whole))
		}
	}
	harmless := 0
	for i := range whole {
		b := bytes.Clone(whole)
		b[i] ^= 0x01
		_, got, err := readFrames(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotBackup) {
				t.Fatalf("byte %d flipped: %v, want ErrCorrupt, ErrTruncated or ErrNotBackup", i, err)
			}
			continue
		}
		if format == FormatUncompressed || !reflect.DeepEqual(got, want) {
			t.Fatalf("byte %d flipped: no error", i)
		}
		harmless++
	}
	if harmless > 2 {
		t.Errorf("%d flipped bytes went unnoticed; want at most the zstd header's", harmless)
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
	if err := w.Fail(errors.New("replica gone")); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(buf.Bytes()); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "replica gone") {
		t.Fatalf("error frame: %v, want ErrFailed", err)
	}
}

// TestCompresses: repetitive points batches, as real ones are, shrink.
func TestCompresses(t *testing.T) {
	var plain, packed bytes.Buffer
	for _, f := range []struct {
		buf    *bytes.Buffer
		format int
	}{{&plain, FormatUncompressed}, {&packed, Format}} {
		w, err := NewWriterFormat(f.buf, f.format)
		if err != nil {
			t.Fatal(err)
		}
		_ = w.JSON(KindHeader, Header{Format: f.format})
		_ = w.Frame(KindMetadata, []byte(`{}`))
		batch := []byte{1, 100}
		for i := range 100 {
			batch = append(batch, []byte(fmt.Sprintf(`65a1f0d8e4b0a1b2c3d4e5f7 temperature=%d.5 2024-01-15T10:%02d:00Z;`, 20+i%3, i%60))...)
		}
		for range 50 {
			if err := w.Points("65a4f0c2a1b2c3d4e5000001", batch); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if packed.Len()*10 > plain.Len() {
		t.Errorf("compressed %d bytes, uncompressed %d: want at least 10x smaller", packed.Len(), plain.Len())
	}
}

// FuzzReader: any file is read to an end or an error, never a panic or a
// huge allocation.
func FuzzReader(f *testing.F) {
	f.Add(sampleFormat(f, Format))
	f.Add(sampleFormat(f, FormatUncompressed))
	f.Add([]byte(magicV2))
	f.Add([]byte(magicV1 + "H\x05{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = readFrames(b)
	})
}
