// Package tlsconfig loads a node's TLS certificate, key and CA files into
// the configurations of its API listener and of its node-to-node calls,
// and builds the HTTP client those calls use.
//
// With TLS on:
//   - the API listener serves HTTPS with the node's certificate; a client
//     certificate is optional, but one that is presented must be signed by
//     a CA of the CA file (peers present theirs);
//   - in a cluster, calls to other nodes' /internal routes are HTTPS, verify
//     the peer's certificate against the CA file (host name included) and
//     present this node's certificate;
//   - Raft connections are mutual TLS against the CA file before the
//     cluster-key challenge (cluster/transport.go).
//
// Gossip is not TLS: memberlist encrypts and authenticates it with the
// cluster key (AES-GCM) whether or not TLS is on.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// Files names the PEM files of a node's TLS; all empty means TLS is off.
type Files struct {
	Cert, Key string // this node's certificate and key, both or neither
	CA        string // the CAs that sign the nodes' certificates
}

// Validate checks that the files go together; clustered says whether the
// node has peers, which need the CA.
func (f Files) Validate(clustered bool) error {
	switch {
	case (f.Cert == "") != (f.Key == ""):
		return errors.New("a TLS certificate and its key go together (--tls-cert, --tls-key)")
	case f.CA != "" && f.Cert == "":
		return errors.New("a TLS CA needs the node's certificate and key too (--tls-cert, --tls-key)")
	case f.Cert != "" && f.CA == "" && clustered:
		return errors.New("TLS in a cluster needs the CA that signs the nodes' certificates (--tls-ca)")
	}
	return nil
}

// Config is the TLS configuration of a node.
type Config struct {
	API  *tls.Config // the API listener
	Peer *tls.Config // node-to-node, both sides; nil on a lone node
}

// PeerConfig is the node-to-node TLS configuration, nil without TLS.
func (c *Config) PeerConfig() *tls.Config {
	if c == nil {
		return nil
	}
	return c.Peer
}

// Load reads the certificate, key and CA files; nil when TLS is off.
func Load(f Files, clustered bool) (*Config, error) {
	if f.Cert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("cannot load TLS certificate %q and key %q: %w", f.Cert, f.Key, err)
	}
	c := &Config{API: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}}
	if f.CA == "" {
		return c, nil
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("cannot read TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in TLS CA %q", f.CA)
	}
	c.API.ClientAuth, c.API.ClientCAs = tls.VerifyClientCertIfGiven, pool
	if clustered {
		c.Peer = &tls.Config{
			MinVersion:   tls.VersionTLS13, // both ends are dakkio
			Certificates: []tls.Certificate{cert},
			RootCAs:      pool,
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		}
	}
	return c, nil
}

// PeerClient is the HTTP client for other nodes' internal routes. idle is
// the other nodes' idle timeout (--http-idle-timeout, the same on every
// node); peer is PeerConfig, nil without TLS.
func PeerClient(idle time.Duration, peer *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Idle connections are dropped well before the other node's idle
	// timeout would close them under a request: Go does not resend a POST
	// on a connection closed that way.
	tr.IdleConnTimeout = min(30*time.Second, idle/2)
	tr.MaxIdleConnsPerHost = 32
	// Far below the other node's per-client cap (--http-max-conns-per-ip),
	// which node-to-node calls share with every client on this host.
	tr.MaxConnsPerHost = 128
	if peer != nil {
		tr.TLSClientConfig = peer.Clone()
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: tr}
}
