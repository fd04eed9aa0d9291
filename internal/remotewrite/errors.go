package remotewrite

import "errors"

var (
	// ErrTooLarge is a body that would decompress beyond the limit.
	ErrTooLarge = errors.New("decompressed body too large")
	// ErrInvalid is a body that is not snappy-compressed protobuf of a
	// WriteRequest, or a series without a usable name.
	ErrInvalid = errors.New("invalid remote write request")
)
