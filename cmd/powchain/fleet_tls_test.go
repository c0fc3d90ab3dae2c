package main

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

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/powchain/powchain/fleet"
)

// TestWorkerTLS runs a NATS server that speaks only TLS, with a
// certificate from a CA the test makes: a worker given tls:// and that CA
// mines; one without the CA fails and says why.
func TestWorkerTLS(t *testing.T) {
	bin := buildPowchain(t)
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "powchain test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)

	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		TLS: true, TLSTimeout: 5,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("the TLS NATS server did not start")
	}
	t.Cleanup(s.Shutdown)
	url := "tls://" + s.Addr().String()

	noCA := startChild(t, "worker without the CA", bin, "worker", "--nats", url, "--workers", "1")
	if code := noCA.wait(t, 30*time.Second); code == 0 {
		t.Errorf("a worker that cannot verify the server exited 0")
	}
	if msg := noCA.stderr.String(); !strings.Contains(msg, "certificate") {
		t.Errorf("a worker that cannot verify the server said %q; want it to name the certificate", msg)
	}

	startChild(t, "worker with the CA", bin, "worker", "--nats", url, "--nats-ca", caFile, "--workers", "1", "--name", "tls", "--progress", "never")
	nc, err := nats.Connect(url, nats.RootCAs(caFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := fleet.NewCoordinator(nc, fleet.Options{InitialRange: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	waitConnected(t, c, 1)
	r := fleetRows(t)[0]
	await(t, mineAsync(c, r.tpl, r.target), r.nonce)
}
