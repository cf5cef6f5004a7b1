package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/tealdb/teal/internal/rds"
	"github.com/tealdb/teal/internal/tlsca"
)

// apiTLS is the TLS configuration of the API, or nil to serve it in plain
// HTTP: the operator's certificate, or one from teal's own CA for the
// address teal listens on and the endpoints' names (clients then verify it with the CA bundle:
// AWS_CA_BUNDLE for the AWS CLI and boto3, TEAL_CA_BUNDLE for teal).
func apiTLS(cfg Config, svc *rds.Service, addr net.Addr) (*tls.Config, error) {
	switch {
	case cfg.TLSCert != "" || cfg.TLSKey != "":
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, errors.New("--tls-cert and --tls-key go together")
		}
		if cfg.TLS {
			return nil, errors.New("--tls makes a certificate from teal's CA: give it, or --tls-cert and --tls-key, not both")
		}
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("API certificate: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	case cfg.TLS:
		// The names the API is reached by: this host's, the listen
		// address, and the endpoints' address and hostname (one name for
		// the team's databases and their API).
		hosts := []string{"127.0.0.1", "localhost"}
		if tcp, ok := addr.(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() && !tcp.IP.IsLoopback() {
			hosts = append(hosts, tcp.IP.String())
		}
		for _, h := range []string{cfg.EndpointAddress, cfg.EndpointHostname} {
			if h != "" && !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
		r := &renewing{issue: func() (tls.Certificate, error) { return svc.IssueCertificate(hosts) }}
		if _, err := r.get(); err != nil {
			return nil, fmt.Errorf("API certificate: %w", err)
		}
		return &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.get() },
			MinVersion: tls.VersionTLS12}, nil
	}
	return nil, nil
}

// renewing holds a certificate from teal's CA and replaces it before it
// expires.
type renewing struct {
	issue func() (tls.Certificate, error)
	mu    sync.Mutex
	cert  *tls.Certificate
}

func (r *renewing) get() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cert != nil && time.Until(r.cert.Leaf.NotAfter) > tlsca.RenewBefore {
		return r.cert, nil
	}
	cert, err := r.issue()
	if err != nil {
		if r.cert != nil {
			return r.cert, nil // still valid; the next handshake tries again
		}
		return nil, err
	}
	r.cert = &cert
	return r.cert, nil
}
