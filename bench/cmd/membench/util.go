package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perConnKiB is the per-connection cost in KiB of a figure that went from
// before to after over n connections. The delta is signed: a figure that
// shrank (the GC returned more than the connections took) comes out negative
// rather than wrapping around.
func perConnKiB(before, after uint64, n int) float64 {
	if n <= 0 {
		return 0
	}
	return (float64(after) - float64(before)) / 1024 / float64(n)
}

// ratio is a/b, or 0 when b is not positive (no meaningful ratio).
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// hostName is the name of crawl host i; hostAddr maps it back to one of the
// server's ports, so every client resolves through its own hook with no DNS.
func hostName(i int) string { return "h" + strconv.Itoa(i) + ".crawl.test" }

// crawlURL is the URL of crawl host i: its name and the port hostAddr maps
// it to (every client sees the same host:port; only the IP comes from the
// client's resolution hook).
func crawlURL(i int, ports []int) string {
	return "http://" + hostName(i) + ":" + strconv.Itoa(ports[i%len(ports)]) + "/"
}

// hostAddr maps "h<i>.crawl.test" (with or without ":port") to
// 127.0.0.1:ports[i%len(ports)].
func hostAddr(host string, ports []int) (string, error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if len(ports) == 0 {
		return "", fmt.Errorf("hostAddr: no ports")
	}
	rest, ok := strings.CutPrefix(host, "h")
	if !ok {
		return "", fmt.Errorf("hostAddr: %q is not a crawl host", host)
	}
	num, ok := strings.CutSuffix(rest, ".crawl.test")
	if !ok {
		return "", fmt.Errorf("hostAddr: %q is not a crawl host", host)
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 {
		return "", fmt.Errorf("hostAddr: %q is not a crawl host", host)
	}
	return "127.0.0.1:" + strconv.Itoa(ports[i%len(ports)]), nil
}

// vmRSS reads VmRSS from /proc/self/status, in bytes (0 if unavailable).
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseVmRSS(b)
}

func parseVmRSS(status []byte) uint64 {
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) == 2 && f[1] == "kB" {
				if v, err := strconv.ParseUint(f[0], 10, 64); err == nil {
					return v * 1024
				}
			}
		}
	}
	return 0
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit.
func raiseNoFile() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	r.Cur = r.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	return r.Cur
}

// snap is one reading of the memory figures, after a GC.
type snap struct {
	HeapInuse, HeapAlloc, StackInuse, RSS uint64
	Goroutines                            int
	FDs                                   int
}

func takeSnap() snap {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return snap{HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse, RSS: vmRSS(), Goroutines: runtime.NumGoroutine(), FDs: openFDs()}
}

// The server's certificates: "" is one self-signed ECDSA P-256
// certificate that the clients trust directly (a full handshake checks one
// signature); the chains are served as a public site serves them (the leaf
// and its intermediate, under a root the clients trust; three signatures
// to check and a chain to build), shaped like Let's Encrypt's two
// hierarchies: ECDSA (P-384 root and intermediate, P-256 leaf) and RSA
// (4096-bit root, 2048-bit intermediate and leaf).
const (
	certSelf  = ""
	certECDSA = "ecdsa"
	certRSA   = "rsa"
)

var certKinds = []string{certSelf, certECDSA, certRSA}

// certFile is one of the server's certificates as PEM files: Cert holds
// the chain the server sends, Root what the clients trust.
type certFile struct {
	Cert, Key, Root string
}

// writeCerts writes every kind of certificate, for 127.0.0.1, localhost
// and *.crawl.test, into dir.
func writeCerts(dir string) (map[string]certFile, error) {
	now := time.Now()
	tmpl := func(serial int64, name string, ca, leaf bool) *x509.Certificate {
		t := &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: name},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			IsCA:                  ca,
		}
		if ca {
			t.KeyUsage |= x509.KeyUsageCertSign
		}
		if leaf {
			t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			t.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			t.DNSNames = []string{"localhost", "*.crawl.test"}
		}
		return t
	}
	type issued struct {
		der []byte
		key crypto.Signer
		crt *x509.Certificate
	}
	ecKey := func(c elliptic.Curve) func() (crypto.Signer, error) {
		return func() (crypto.Signer, error) { return ecdsa.GenerateKey(c, rand.Reader) }
	}
	rsaKey := func(bits int) func() (crypto.Signer, error) {
		return func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, bits) }
	}
	issue := func(t *x509.Certificate, newKey func() (crypto.Signer, error), parent *issued) (issued, error) {
		key, err := newKey()
		if err != nil {
			return issued{}, err
		}
		pt, pk := t, key
		if parent != nil {
			pt, pk = parent.crt, parent.key
		}
		der, err := x509.CreateCertificate(rand.Reader, t, pt, key.Public(), pk)
		if err != nil {
			return issued{}, err
		}
		crt, err := x509.ParseCertificate(der)
		return issued{der, key, crt}, err
	}
	write := func(name string, leaf issued, chain ...issued) (certFile, error) {
		f := certFile{Cert: dir + "/" + name + ".pem", Key: dir + "/" + name + "-key.pem", Root: dir + "/" + name + "-root.pem"}
		kder, err := x509.MarshalPKCS8PrivateKey(leaf.key)
		if err != nil {
			return f, err
		}
		pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
		sent := pemOf("CERTIFICATE", leaf.der)
		root := sent // self-signed: the clients trust the certificate itself
		for i, c := range chain {
			if i == len(chain)-1 { // the root is not sent
				root = pemOf("CERTIFICATE", c.der)
				break
			}
			sent = append(sent, pemOf("CERTIFICATE", c.der)...)
		}
		for _, w := range []struct {
			path string
			b    []byte
		}{{f.Cert, sent}, {f.Key, pemOf("PRIVATE KEY", kder)}, {f.Root, root}} {
			if err := os.WriteFile(w.path, w.b, 0o600); err != nil {
				return f, err
			}
		}
		return f, nil
	}
	out := map[string]certFile{}
	self, err := issue(tmpl(1, "membench", true, true), ecKey(elliptic.P256()), nil)
	if err == nil {
		out[certSelf], err = write("self", self)
	}
	for _, h := range []struct {
		kind             string
		root, inter, end func() (crypto.Signer, error)
	}{
		{certECDSA, ecKey(elliptic.P384()), ecKey(elliptic.P384()), ecKey(elliptic.P256())},
		{certRSA, rsaKey(4096), rsaKey(2048), rsaKey(2048)},
	} {
		if err != nil {
			break
		}
		var root, inter, leaf issued
		if root, err = issue(tmpl(2, "membench "+h.kind+" root", true, false), h.root, nil); err != nil {
			break
		}
		if inter, err = issue(tmpl(3, "membench "+h.kind+" intermediate", true, false), h.inter, &root); err != nil {
			break
		}
		if leaf, err = issue(tmpl(4, "membench "+h.kind+" leaf", false, true), h.end, &inter); err != nil {
			break
		}
		out[h.kind], err = write(h.kind, leaf, inter, root)
	}
	return out, err
}
