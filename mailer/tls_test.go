package mailer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/mailer"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to files, and
// returns their paths and a TLS config that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, conf *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// STARTTLS (required, and by default when offered) and implicit TLS
// (smtps://) deliver, with authentication over the encrypted session.
func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, conf := selfSigned(t)
	m := switchboard.Mail{ID: "m1", MessageID: "<tls@example.com>", From: "a@example.com",
		To: []string{"b@example.com"}, Subject: "over TLS", TextBody: "secret"}
	cases := []struct {
		name   string
		scheme string // replaces "smtp://" of the Mailpit URL
		query  string
		extra  []string
	}{
		{"starttls required", "smtp://user:pass@", "?starttls=require", []string{"--smtp-require-starttls"}},
		{"starttls opportunistic", "smtp://user:pass@", "", nil},
		{"smtps", "smtps://user:pass@", "", []string{"--smtp-require-tls"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mp := startMailpit(t, 0, append([]string{"--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile}, c.extra...)...)
			url := strings.Replace(mp.SMTPURL, "smtp://", c.scheme, 1) + c.query
			s, err := mailer.NewSMTP(url, mailer.SMTPOptions{Timeout: 5 * time.Second, TLSConfig: conf})
			if err != nil {
				t.Fatalf("NewSMTP(%q): %v", url, err)
			}
			if err := s.Send(t.Context(), m); err != nil {
				t.Fatalf("Send via %s: %v", url, err)
			}
			got := mp.WaitMessages(t, 1, 5*time.Second)
			if got[0].Subject != m.Subject || strings.TrimSpace(got[0].Text) != m.TextBody {
				t.Errorf("got %+v", got[0])
			}
		})
	}
}
