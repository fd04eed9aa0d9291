package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dakkio/dakkio/httpapi"
)

// TLS, when Config.TLSCertFile is set:
//   - the API listener serves HTTPS with the node's certificate; a client
//     certificate is optional, but one that is presented must be signed by
//     a CA of TLSCAFile (peers present theirs);
//   - in a cluster, calls to other nodes' /internal routes are HTTPS, verify
//     the peer's certificate against TLSCAFile (host name included) and
//     present this node's certificate;
//   - Raft connections are mutual TLS against TLSCAFile before the
//     cluster-key challenge (cluster/transport.go).
//
// Gossip is not TLS: memberlist encrypts and authenticates it with the
// cluster key (AES-GCM) whether or not TLS is on.

// nodeTLS is the TLS configuration of a node, loaded once in New.
type nodeTLS struct {
	api  *tls.Config // the API listener
	peer *tls.Config // node-to-node, both sides; nil on a lone node
}

// peerConfig is the node-to-node TLS configuration, nil without TLS.
func (t *nodeTLS) peerConfig() *tls.Config {
	if t == nil {
		return nil
	}
	return t.peer
}

func (c *Config) validateTLS() error {
	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		return errors.New("a TLS certificate and its key go together (--tls-cert, --tls-key)")
	case c.TLSCAFile != "" && c.TLSCertFile == "":
		return errors.New("a TLS CA needs the node's certificate and key too (--tls-cert, --tls-key)")
	case c.TLSCertFile != "" && c.TLSCAFile == "" && c.clustered():
		return errors.New("TLS in a cluster needs the CA that signs the nodes' certificates (--tls-ca)")
	}
	return nil
}

// loadTLS reads the certificate, key and CA files; nil when TLS is off.
func (c *Config) loadTLS() (*nodeTLS, error) {
	if c.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load TLS certificate %q and key %q: %w", c.TLSCertFile, c.TLSKeyFile, err)
	}
	t := &nodeTLS{api: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}}
	if c.TLSCAFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(c.TLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in TLS CA %q", c.TLSCAFile)
	}
	t.api.ClientAuth, t.api.ClientCAs = tls.VerifyClientCertIfGiven, pool
	if c.clustered() {
		t.peer = &tls.Config{
			MinVersion:   tls.VersionTLS13, // both ends are dakkio
			Certificates: []tls.Certificate{cert},
			RootCAs:      pool,
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		}
	}
	return t, nil
}

// listenHTTP opens the API listener, with TLS when configured.
func (n *Node) listenHTTP() (net.Listener, error) {
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %q: %w", n.cfg.HTTPAddr, err)
	}
	if n.tlsConf != nil {
		ln = tls.NewListener(ln, n.tlsConf.api)
	}
	return ln, nil
}

// peerClient is the HTTP client for other nodes' internal routes.
func (n *Node) peerClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Idle connections are dropped well before the other node's idle
	// timeout (--http-idle-timeout, the same on every node) would close
	// them under a request: Go does not resend a POST on a connection
	// closed that way.
	idle := n.cfg.HTTPLimits.IdleTimeout
	if idle <= 0 {
		idle = httpapi.DefaultIdleTimeout
	}
	tr.IdleConnTimeout = min(30*time.Second, idle/2)
	tr.MaxIdleConnsPerHost = 32
	// Far below the other node's per-client cap (--http-max-conns-per-ip),
	// which node-to-node calls share with every client on this host.
	tr.MaxConnsPerHost = 128
	if peer := n.tlsConf.peerConfig(); peer != nil {
		tr.TLSClientConfig = peer.Clone()
	}
	return &http.Client{Timeout: 15 * time.Second, Transport: tr}
}

// peerURL is the URL of path on the node whose API listens on addr.
func (n *Node) peerURL(addr, path string) string {
	if n.tlsConf != nil {
		return "https://" + addr + path
	}
	return "http://" + addr + path
}

// URL is the base URL of this node's API ("http://" or "https://" and the
// address it listens on).
func (n *Node) URL() string { return n.peerURL(n.HTTPAddr(), "") }
