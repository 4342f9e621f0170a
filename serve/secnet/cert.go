package secnet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names of the files written by GenerateSelfSigned in its directory.
const (
	CertName = "cert.pem"
	KeyName  = "key.pem"
)

// GenerateSelfSigned writes a self-signed ECDSA P-256 certificate valid
// for hosts (IP addresses and DNS names) and its key to dir/cert.pem and
// dir/key.pem (mode 0600 for the key) and returns their paths. The
// certificate is its own CA: peers verify it with CAFile = cert.pem. For
// tests, demos and private deployments; use a real CA otherwise.
func GenerateSelfSigned(dir string, hosts []string, validity time.Duration) (certFile, keyFile string, err error) {
	if len(hosts) == 0 {
		return "", "", errors.New("secnet: self-signed certificate needs at least one host")
	}
	tmpl, key, err := template("autorep "+hosts[0], "autorep (self-signed)", validity)
	if err != nil {
		return "", "", err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return create(dir, CertName, KeyName, tmpl, tmpl, key, key)
}

// Names of the files written by GenerateCA and IssueClientCert.
const (
	CACertName     = "ca.pem"
	CAKeyName      = "ca-key.pem"
	ClientCertName = "client-cert.pem"
	ClientKeyName  = "client-key.pem"
)

// GenerateCA writes a new certificate authority (ECDSA P-256) named name
// to dir/ca.pem and dir/ca-key.pem (mode 0600) and returns their paths:
// the roots of a listener's ClientCAFile, signing the client certificates
// of IssueClientCert (the network dealer's --server-ca: the model servers
// it lets register). It signs certificates only; keep its key offline.
func GenerateCA(dir, name string, validity time.Duration) (certFile, keyFile string, err error) {
	tmpl, key, err := template(name, "autorep", validity)
	if err != nil {
		return "", "", err
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	tmpl.MaxPathLenZero = true
	return create(dir, CACertName, CAKeyName, tmpl, tmpl, key, key)
}

// IssueClientCert writes a client certificate for name (its subject
// common name), signed by the CA of caCertFile and caKeyFile (as
// GenerateCA writes them), and its new key to dir/client-cert.pem and
// dir/client-key.pem (mode 0600), and returns their paths: what a dialer
// presents as ClientCertFile and ClientKeyFile.
func IssueClientCert(caCertFile, caKeyFile, dir, name string, validity time.Duration) (certFile, keyFile string, err error) {
	ca, err := tls.LoadX509KeyPair(caCertFile, caKeyFile)
	if err != nil {
		return "", "", fmt.Errorf("secnet: loading CA %s / key %s: %w", caCertFile, caKeyFile, err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return "", "", fmt.Errorf("secnet: CA certificate: %w", err)
	}
	if !caCert.IsCA {
		return "", "", fmt.Errorf("secnet: %s is not a CA certificate", caCertFile)
	}
	tmpl, key, err := template(name, "autorep", validity)
	if err != nil {
		return "", "", err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return create(dir, ClientCertName, ClientKeyName, tmpl, caCert, key, ca.PrivateKey)
}

// template returns a certificate template with a random serial, valid from
// an hour ago for validity (default a year), and a new P-256 key.
func template(cn, org string, validity time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("secnet: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("secnet: serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
	}, key, nil
}

// create signs tmpl with parent's key signer and writes the certificate and
// key to dir/certName and dir/keyName (the key with mode 0600).
func create(dir, certName, keyName string, tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, signer any) (certFile, keyFile string, err error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return "", "", fmt.Errorf("secnet: creating certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("secnet: encoding key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("secnet: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, certName), filepath.Join(dir, keyName)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", "", fmt.Errorf("secnet: writing key: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", fmt.Errorf("secnet: writing certificate: %w", err)
	}
	return certFile, keyFile, nil
}
