package httpapi

import (
	"errors"
	"time"
)

// Limits bound what a client can hold of the server before it has proved who
// it is, and what all clients together can make it buffer.
type Limits struct {
	// ReadHeaderTimeout is how long a client has to send a request's headers,
	// from the connection's first byte (or, on a kept-alive connection, from
	// the request's first byte). A slow client is cut off then. Default 10s.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout is how long a client has to send the body once the
	// headers are in. Default 60s.
	BodyReadTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its next
	// request. Default 60s.
	IdleTimeout time.Duration
	// MaxConnsPerIP caps the open connections from one client address;
	// beyond it a connection is answered 429 and closed. Default 256;
	// negative: no cap.
	MaxConnsPerIP int
	// MaxBodyBytesInFlight bounds the bytes of request bodies being read or
	// held by handlers at once, over all connections; beyond it a request
	// gets 503 with Retry-After before its body is read. Default 256 MiB; at
	// least the maximum body size.
	MaxBodyBytesInFlight int64
}

// Defaults of Limits.
const (
	DefaultReadHeaderTimeout    = 10 * time.Second
	DefaultBodyReadTimeout      = 60 * time.Second
	DefaultIdleTimeout          = 60 * time.Second
	DefaultMaxConnsPerIP        = 256
	DefaultMaxBodyBytesInFlight = 256 << 20
)

func (l *Limits) setDefaults() {
	if l.ReadHeaderTimeout == 0 {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if l.BodyReadTimeout == 0 {
		l.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxConnsPerIP == 0 {
		l.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if l.MaxBodyBytesInFlight == 0 {
		l.MaxBodyBytesInFlight = DefaultMaxBodyBytesInFlight
	}
}

// Validate reports the first limit that cannot work with bodies of up to
// maxBody bytes. Zero values stand for the defaults.
func (l Limits) Validate(maxBody int) error {
	l.setDefaults()
	switch {
	case l.ReadHeaderTimeout < 0 || l.BodyReadTimeout < 0 || l.IdleTimeout < 0:
		return errors.New("http timeouts must not be negative")
	case l.MaxBodyBytesInFlight < int64(maxBody):
		return errors.New("http-max-body-bytes-in-flight must be at least the maximum body size")
	}
	return nil
}

// fasthttpMaxConnsPerIP is MaxConnsPerIP as fasthttp reads it (0: no cap).
func (l Limits) fasthttpMaxConnsPerIP() int {
	return max(l.MaxConnsPerIP, 0)
}
