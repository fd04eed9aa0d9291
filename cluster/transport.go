package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// authStream is the raft.StreamLayer of a cluster: every connection starts
// with a challenge-response proving that the dialing node holds the cluster
// key, so only cluster members can send Raft messages. The accepting side
// sends a random nonce, the dialer answers with HMAC-SHA256(key, tag ‖
// nonce), and the acceptor confirms with one byte.
//
// With a TLS config the connection is first wrapped in mutual TLS (both
// certificates verified against the cluster's CA), so the handshake and all
// Raft traffic after it are encrypted, and a host without a node
// certificate does not even reach the challenge. Without one, Raft traffic
// is authenticated but not encrypted.
//
// It also advertises its address as given (host:port), so the Raft
// configuration keeps host names and survives nodes coming back on new IPs.
type authStream struct {
	ln        net.Listener
	advertise net.Addr
	key       []byte
	tls       *tls.Config // nil: plain TCP
	log       *slog.Logger

	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

const (
	handshakeTag     = "dakkio-raft-v1"
	handshakeTimeout = 5 * time.Second
	nonceLen         = 32
)

// errHandshake: the peer did not prove it holds the cluster key.
var errHandshake = errors.New("raft handshake failed")

type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }

func newAuthStream(bind, advertise string, key []byte, tlsConf *tls.Config, log *slog.Logger) (*authStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == "" {
		advertise = ln.Addr().String()
	}
	s := &authStream{ln: ln, advertise: advertiseAddr(advertise), key: key, tls: tlsConf, log: log,
		conns: make(chan net.Conn), closed: make(chan struct{})}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// acceptLoop hands authenticated connections to Accept; the handshakes run
// concurrently so that a slow or hostile peer cannot hold up the others.
func (s *authStream) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return
			default:
				continue
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c, err := s.answer(c)
			if err != nil {
				s.log.Warn("refused a raft connection", "remote", c.RemoteAddr().String(), "err", err)
				c.Close()
				return
			}
			select {
			case s.conns <- c:
			case <-s.closed:
				c.Close()
			}
		}()
	}
}

func (s *authStream) mac(nonce []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(handshakeTag))
	m.Write(nonce)
	return m.Sum(nil)
}

// answer runs the accepting side of the handshake and returns the
// connection to use: c, or c wrapped in TLS.
func (s *authStream) answer(c net.Conn) (net.Conn, error) {
	if err := c.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return c, err
	}
	if s.tls != nil {
		tc := tls.Server(c, s.tls)
		if err := tc.Handshake(); err != nil {
			return c, fmt.Errorf("tls: %w", err)
		}
		c = tc
	}
	return c, s.challenge(c)
}

// challenge asks the dialer of c to prove the cluster key.
func (s *authStream) challenge(c net.Conn) error {
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	if _, err := c.Write(nonce); err != nil {
		return err
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !hmac.Equal(got, s.mac(nonce)) {
		return errHandshake
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return err
	}
	return c.SetDeadline(time.Time{})
}

// Dial connects to another node's Raft and proves the cluster key.
func (s *authStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if s.tls != nil {
		if c, err = s.dialTLS(c, string(addr)); err != nil {
			c.Close()
			return nil, fmt.Errorf("%w with %s: tls: %v", errHandshake, addr, err)
		}
	}
	if err := s.prove(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w with %s: %v", errHandshake, addr, err)
	}
	return c, nil
}

// dialTLS runs the client side of TLS on c, verifying the server's
// certificate for the host of addr.
func (s *authStream) dialTLS(c net.Conn, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return c, err
	}
	cfg := s.tls.Clone()
	cfg.ServerName = host
	tc := tls.Client(c, cfg)
	if err := c.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return c, err
	}
	if err := tc.Handshake(); err != nil {
		return c, err
	}
	return tc, nil
}

// prove answers the acceptor's challenge with the cluster key.
func (s *authStream) prove(c net.Conn) error {
	if err := c.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return err
	}
	nonce := make([]byte, nonceLen)
	if _, err := io.ReadFull(c, nonce); err != nil {
		return err
	}
	if _, err := c.Write(s.mac(nonce)); err != nil {
		return err
	}
	ok := make([]byte, 1)
	if _, err := io.ReadFull(c, ok); err != nil {
		return err
	}
	return c.SetDeadline(time.Time{})
}

// Accept returns the next authenticated connection.
func (s *authStream) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and waits for the handshakes in flight.
func (s *authStream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.ln.Close()
		s.wg.Wait()
	})
	return err
}

// Addr is the address this node advertises to the others.
func (s *authStream) Addr() net.Addr { return s.advertise }
