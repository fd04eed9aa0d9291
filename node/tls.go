package node

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/dakkio/dakkio/httpapi"
	"github.com/dakkio/dakkio/internal/tlsconfig"
)

// tlsFiles are the TLS files of the config (internal/tlsconfig).
func (c *Config) tlsFiles() tlsconfig.Files {
	return tlsconfig.Files{Cert: c.TLSCertFile, Key: c.TLSKeyFile, CA: c.TLSCAFile}
}

// listenHTTP opens the API listener, with TLS when configured.
func (n *Node) listenHTTP() (net.Listener, error) {
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %q: %w", n.cfg.HTTPAddr, err)
	}
	if n.tlsConf != nil {
		ln = tls.NewListener(ln, n.tlsConf.API)
	}
	return ln, nil
}

// peerClient is the HTTP client for other nodes' internal routes.
func (n *Node) peerClient() *http.Client {
	idle := n.cfg.HTTPLimits.IdleTimeout
	if idle <= 0 {
		idle = httpapi.DefaultIdleTimeout
	}
	return tlsconfig.PeerClient(idle, n.tlsConf.PeerConfig())
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
