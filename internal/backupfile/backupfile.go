package backupfile

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The file is the magic line, then frames: a kind byte, the payload's
// length as a uvarint, the payload. Frames come in this order: one header,
// one metadata snapshot, any number of points batches, one trailer; an
// error frame instead of the trailer says the backup failed on the server.
//
// Format 1 has the frames as they are. Format 2 (what Writer writes) has
// them in one zstd stream after its magic line; the checksum and counts
// are those of the uncompressed frames, as in format 1. Readers take both.
const (
	magicV1 = "DAKKIO-BACKUP 1\n"
	magicV2 = "DAKKIO-BACKUP 2\n"

	// KindHeader is the header's JSON (Header).
	KindHeader byte = 'H'
	// KindMetadata is the metadata snapshot's JSON, as store.WriteSnapshot writes it.
	KindMetadata byte = 'M'
	// KindPoints is a bucket id (24 hex characters) then a batch of that
	// bucket's points in points.EncodeBatch form.
	KindPoints byte = 'P'
	// KindError is the JSON {"error": message} of a backup that failed midway.
	KindError byte = 'X'
	// KindTrailer is the trailer's JSON (Trailer); nothing follows it.
	KindTrailer byte = 'T'

	// Format is the version of the file NewWriter writes.
	Format = 2
	// FormatUncompressed is the first version, still read (and written by
	// NewWriterFormat, for tests of old files).
	FormatUncompressed = 1
	// MaxFrame bounds a frame's payload, so a corrupt length cannot make a
	// reader allocate without bound.
	MaxFrame = 256 << 20
	// idLen is the length of a bucket id.
	idLen = 24
	// maxDecoderMemory bounds what a reader's zstd decoder may allocate,
	// whatever window a crafted file asks for.
	maxDecoderMemory = 512 << 20
)

// Errors of Reader.
var (
	// ErrNotBackup: the file does not start as a backup does.
	ErrNotBackup = errors.New("not a dakkio backup file")
	// ErrTruncated: the file ends before its trailer.
	ErrTruncated = errors.New("backup file is truncated")
	// ErrCorrupt: a frame is malformed, or the trailer's counts or checksum
	// do not match what precedes it.
	ErrCorrupt = errors.New("backup file is corrupt")
	// ErrFailed: the server wrote an error frame: the backup did not finish.
	ErrFailed = errors.New("backup failed on the server")
)

// Header opens a backup.
type Header struct {
	Format    int       `json:"format"`
	CreatedAt time.Time `json:"createdAt"`
	// RaftIndex: the metadata is one consistent state at this Raft index
	// or a later one.
	RaftIndex uint64 `json:"raftIndex"`
	NodeID    string `json:"nodeId"`
	// ExpectedPoints is what the buckets held when the backup started
	// (points written during the backup may or may not be in it).
	ExpectedPoints int64        `json:"expectedPoints"`
	Buckets        []BucketInfo `json:"buckets"`
}

// BucketInfo is one bucket of a backup as the header lists it.
type BucketInfo struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Sources        int    `json:"sources"`
	ExpectedPoints int64  `json:"expectedPoints"`
}

// Trailer closes a backup.
type Trailer struct {
	Frames  int64  `json:"frames"`  // frames before the trailer
	Batches int64  `json:"batches"` // points frames
	Points  int64  `json:"points"`
	SHA256  string `json:"sha256"` // hex, of every byte before the trailer frame
}

// Writer writes a backup file.
type Writer struct {
	w   io.Writer
	zw  *zstd.Encoder // nil in format 1
	h   hash.Hash
	t   Trailer
	buf []byte
}

// NewWriter writes the magic line of the current format to w and returns
// a Writer. Close (or Fail) must be called to flush the compressed stream.
func NewWriter(w io.Writer) (*Writer, error) { return NewWriterFormat(w, Format) }

// NewWriterFormat is NewWriter for a given format, Format or
// FormatUncompressed.
func NewWriterFormat(w io.Writer, format int) (*Writer, error) {
	bw := &Writer{w: w, h: sha256.New()}
	switch format {
	case FormatUncompressed:
		if err := bw.write([]byte(magicV1)); err != nil {
			return nil, err
		}
	case Format:
		bw.h.Write([]byte(magicV2))
		if _, err := w.Write([]byte(magicV2)); err != nil {
			return nil, err
		}
		// One goroutine: a backup runs beside the node's own work. The
		// default level gives most of the gain (points batches are
		// repetitive: ids, field names, close timestamps).
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, fmt.Errorf("cannot start compression: %w", err)
		}
		bw.w, bw.zw = zw, zw
	default:
		return nil, fmt.Errorf("backup format %d is not one this package writes", format)
	}
	return bw, nil
}

func (bw *Writer) write(b []byte) error {
	bw.h.Write(b)
	_, err := bw.w.Write(b)
	return err
}

// Frame writes one frame (not a trailer: see Close).
func (bw *Writer) Frame(kind byte, payload []byte) error {
	if len(payload) > MaxFrame {
		return fmt.Errorf("frame of %d bytes is larger than %d", len(payload), MaxFrame)
	}
	bw.buf = binary.AppendUvarint(append(bw.buf[:0], kind), uint64(len(payload)))
	if err := bw.write(bw.buf); err != nil {
		return err
	}
	if err := bw.write(payload); err != nil {
		return err
	}
	bw.t.Frames++
	if kind == KindPoints {
		n, err := PointsIn(payload)
		if err != nil {
			return err
		}
		bw.t.Batches++
		bw.t.Points += n
	}
	return nil
}

// JSON writes a frame holding v as JSON.
func (bw *Writer) JSON(kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return bw.Frame(kind, b)
}

// Points writes a points frame of the bucket; batch is in
// points.EncodeBatch form.
func (bw *Writer) Points(bucketID string, batch []byte) error {
	if len(bucketID) != idLen {
		return fmt.Errorf("bad bucket id %q", bucketID)
	}
	return bw.Frame(KindPoints, append([]byte(bucketID), batch...))
}

// Close writes the trailer and returns it. The Writer must not be used after.
func (bw *Writer) Close() (Trailer, error) {
	t := bw.t
	t.SHA256 = hex.EncodeToString(bw.h.Sum(nil))
	b, err := json.Marshal(t)
	if err != nil {
		return t, err
	}
	bw.buf = binary.AppendUvarint(append(bw.buf[:0], KindTrailer), uint64(len(b)))
	if _, err := bw.w.Write(append(bw.buf, b...)); err != nil {
		return t, err
	}
	return t, bw.closeStream()
}

// Fail writes an error frame saying why the backup stopped and ends the
// file; readers refuse it with ErrFailed. The Writer must not be used after.
func (bw *Writer) Fail(cause error) error {
	err := bw.JSON(KindError, map[string]string{"error": cause.Error()})
	return errors.Join(err, bw.closeStream())
}

// closeStream ends the zstd stream, writing what it still buffers.
func (bw *Writer) closeStream() error {
	if bw.zw == nil {
		return nil
	}
	if err := bw.zw.Close(); err != nil {
		return fmt.Errorf("cannot finish compression: %w", err)
	}
	return nil
}

// PointsIn returns how many points a points frame's payload holds, from
// the batch's count (the batch itself is checked when it is decoded).
func PointsIn(payload []byte) (int64, error) {
	if len(payload) < idLen+2 || payload[idLen] != 1 {
		return 0, fmt.Errorf("%w: bad points frame", ErrCorrupt)
	}
	n, k := binary.Uvarint(payload[idLen+1:])
	if k <= 0 || n > 1<<20 {
		return 0, fmt.Errorf("%w: bad points count", ErrCorrupt)
	}
	return int64(n), nil
}

// SplitPoints returns a points frame's bucket id and batch.
func SplitPoints(payload []byte) (bucketID string, batch []byte) {
	return string(payload[:idLen]), payload[idLen:]
}

// Reader reads a backup file frame by frame, checking as it goes; only a
// Next that returns io.EOF has seen a whole, intact file.
type Reader struct {
	r       *bufio.Reader
	zr      *zstd.Decoder // nil in format 1
	in      *countingReader
	format  int
	h       hash.Hash
	tally   Trailer
	trailer *Trailer
	file    *bufio.Reader // the file's bytes, compressed or not
	n       int64         // bytes of frames read (uncompressed)
	buf     []byte
	lenBuf  []byte
}

// NewReader checks the magic line and returns a Reader of either format.
// Close releases it.
func NewReader(r io.Reader) (*Reader, error) {
	in := &countingReader{r: r}
	file := bufio.NewReaderSize(in, 1<<20)
	br := &Reader{r: file, in: in, h: sha256.New()}
	m := make([]byte, len(magicV1)) // both magic lines have this length
	if _, err := io.ReadFull(file, m); err != nil {
		return nil, ErrNotBackup
	}
	switch string(m) {
	case magicV1:
		br.format = FormatUncompressed
	case magicV2:
		br.format = Format
		zr, err := zstd.NewReader(file, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecoderMemory))
		if err != nil {
			return nil, fmt.Errorf("cannot start decompression: %w", err)
		}
		br.zr = zr
		br.r = bufio.NewReaderSize(zr, 1<<20)
	default:
		return nil, ErrNotBackup
	}
	br.file = file
	br.h.Write(m)
	br.n = int64(len(m))
	return br, nil
}

// Format is the file's format version, from its magic line.
func (br *Reader) Format() int { return br.format }

// Close releases the decompressor; the Reader must not be used after.
func (br *Reader) Close() {
	if br.zr != nil {
		br.zr.Close()
	}
}

// Offset is how many bytes of the file have been consumed (in a
// compressed file, read ahead by the decompressor's buffers).
func (br *Reader) Offset() int64 {
	if br.zr == nil {
		return br.n
	}
	return br.in.n - int64(br.file.Buffered())
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r   io.Reader
	n   int64
	err error // the first read error other than io.EOF
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// Trailer returns the trailer once Next has returned io.EOF.
func (br *Reader) Trailer() (Trailer, bool) {
	if br.trailer == nil {
		return Trailer{}, false
	}
	return *br.trailer, true
}

// Next returns the next frame's kind and payload (valid until the next
// call), or io.EOF after an intact trailer. Any other error wraps
// ErrTruncated, ErrCorrupt or ErrFailed.
func (br *Reader) Next() (byte, []byte, error) {
	if br.trailer != nil {
		return 0, nil, io.EOF
	}
	kind, err := br.r.ReadByte()
	if err != nil {
		return 0, nil, br.eof(err)
	}
	length, err := binary.ReadUvarint(br.r)
	if err != nil {
		return 0, nil, br.eof(err)
	}
	if length > MaxFrame {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes at byte %d", ErrCorrupt, length, br.n)
	}
	if cap(br.buf) < int(length) {
		br.buf = make([]byte, length)
	}
	payload := br.buf[:length]
	if _, err := io.ReadFull(br.r, payload); err != nil {
		return 0, nil, br.eof(err)
	}
	br.lenBuf = binary.AppendUvarint(append(br.lenBuf[:0], kind), length)
	start := br.n
	br.n += int64(len(br.lenBuf)) + int64(length)
	switch kind {
	case KindTrailer:
		return 0, nil, br.finish(payload)
	case KindError:
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(payload, &e)
		return 0, nil, fmt.Errorf("%w: %s", ErrFailed, e.Error)
	case KindHeader, KindMetadata:
		if (kind == KindHeader) != (br.tally.Frames == 0) || kind == KindMetadata && br.tally.Frames != 1 {
			return 0, nil, fmt.Errorf("%w: frame %q out of order at byte %d", ErrCorrupt, kind, start)
		}
	case KindPoints:
		if br.tally.Frames < 2 {
			return 0, nil, fmt.Errorf("%w: points before the metadata at byte %d", ErrCorrupt, start)
		}
		n, err := PointsIn(payload)
		if err != nil {
			return 0, nil, fmt.Errorf("%w at byte %d", err, start)
		}
		br.tally.Batches++
		br.tally.Points += n
	default:
		return 0, nil, fmt.Errorf("%w: unknown frame kind %d at byte %d", ErrCorrupt, kind, start)
	}
	br.h.Write(br.lenBuf)
	br.h.Write(payload)
	br.tally.Frames++
	return kind, payload, nil
}

func (br *Reader) eof(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The zstd decoder gives io.ErrUnexpectedEOF for a cut stream too.
		return fmt.Errorf("%w: it ends at byte %d without its trailer", ErrTruncated, br.n)
	}
	if br.zr != nil && br.in.err == nil {
		// The file read fine: the decompressor found the stream damaged.
		return fmt.Errorf("%w: the compressed stream is damaged near byte %d of the file: %v", ErrCorrupt, br.Offset(), err)
	}
	return fmt.Errorf("cannot read backup: %w", err)
}

func (br *Reader) finish(payload []byte) error {
	var t Trailer
	if err := json.Unmarshal(payload, &t); err != nil {
		return fmt.Errorf("%w: unreadable trailer: %v", ErrCorrupt, err)
	}
	sum := hex.EncodeToString(br.h.Sum(nil))
	switch {
	case t.SHA256 != sum:
		return fmt.Errorf("%w: checksum mismatch (the trailer says %.12s…, the content is %.12s…)", ErrCorrupt, t.SHA256, sum)
	case t.Frames != br.tally.Frames || t.Batches != br.tally.Batches || t.Points != br.tally.Points:
		return fmt.Errorf("%w: the trailer counts %d frames, %d points; the file holds %d, %d", ErrCorrupt, t.Frames, t.Points, br.tally.Frames, br.tally.Points)
	case t.Frames < 2:
		return fmt.Errorf("%w: no header or metadata", ErrCorrupt)
	}
	if _, err := br.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: bytes after the trailer", ErrCorrupt)
	}
	if br.zr != nil {
		// The zstd stream ended with the trailer; nothing may follow it.
		if _, err := br.file.ReadByte(); err != io.EOF {
			return fmt.Errorf("%w: bytes after the compressed stream", ErrCorrupt)
		}
	}
	br.trailer = &t
	return io.EOF
}
