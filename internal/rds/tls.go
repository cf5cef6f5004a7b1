package rds

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/tlsca"
)

// Every server presents a certificate from teal's CA for the names its
// endpoints are reached by. The name, not the server, is what a client
// verifies, so the same certificate serves every instance and a
// switchover changes nothing a client checks.

// endpointHosts are the names a server certificate is issued for: the
// endpoints' hostname and address, and this host's own names for them.
func (s *Service) endpointHosts() []string {
	hosts := []string{"127.0.0.1", "localhost"}
	for _, h := range []string{s.cfg.EndpointAddress, s.cfg.EndpointHostname} {
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// endpointHostname is the address Endpoint says clients reach endpoints at.
func (s *Service) endpointHostname() string {
	switch {
	case s.cfg.EndpointHostname != "":
		return s.cfg.EndpointHostname
	case s.cfg.EndpointAddress != "":
		return s.cfg.EndpointAddress
	}
	return "127.0.0.1"
}

// setEndpointAddress makes the endpoints listen where the configuration
// says, before any opens.
func (s *Service) setEndpointAddress() error {
	if s.cfg.EndpointHostname != "" && !validHostname(s.cfg.EndpointHostname) {
		return fmt.Errorf("endpoint hostname %q is not a host name or an IP address", s.cfg.EndpointHostname)
	}
	if s.cfg.EndpointAddress == "" {
		return nil
	}
	ip, err := endpointIP(s.cfg.EndpointAddress)
	if err != nil {
		return err
	}
	return s.proxy.SetAddress(ip)
}

// endpointIP reads --endpoint-address: one IPv4 address, not the
// wildcard.
func endpointIP(addr string) (net.IP, error) {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() == nil || ip.IsUnspecified() {
		return nil, fmt.Errorf("endpoint address %q: give one IPv4 address of this host", addr)
	}
	return ip, nil
}

var hostnameRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

func validHostname(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	return len(h) <= 253 && hostnameRE.MatchString(strings.ToLower(h))
}

// issueServerCert makes a new server certificate the current one; servers
// take it when their configuration is next written.
func (s *Service) issueServerCert() error {
	issued, err := s.ca.Issue(s.endpointHosts())
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.serverTLS = &engine.TLS{CertPEM: issued.CertPEM, KeyPEM: issued.KeyPEM}
	s.tlsExpiry = issued.NotAfter
	s.mu.Unlock()
	return nil
}

// CACertificate is teal's CA certificate in PEM: the bundle clients
// verify the servers against.
func (s *Service) CACertificate() []byte { return s.ca.PEM() }

// renewServerCerts replaces the server certificate before it expires, and
// has every running server read the new one.
func (s *Service) renewServerCerts(ctx context.Context) {
	t := time.NewTicker(12 * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		due := time.Until(s.tlsExpiry) < tlsca.RenewBefore
		s.mu.Unlock()
		if !due {
			continue
		}
		if err := s.issueServerCert(); err != nil {
			s.log.Error("renew the servers' certificate", "err", err)
			continue
		}
		s.mu.Lock()
		type running struct {
			rid string
			e   engine.Engine
		}
		var all []running
		for _, r := range s.sortedLocked() {
			if r.Status == StatusAvailable {
				all = append(all, running{r.ResourceID, s.engines[r.Engine]})
			}
		}
		s.mu.Unlock()
		for _, r := range all {
			s.reloadConfig(ctx, r.e, r.rid)
		}
		s.log.Info("servers' certificate renewed", "instances", len(all))
	}
}

// IssueCertificate makes a server certificate from teal's CA for hosts,
// for teal's own API.
func (s *Service) IssueCertificate(hosts []string) (tls.Certificate, error) {
	issued, err := s.ca.Issue(hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(issued.CertPEM, issued.KeyPEM)
}
