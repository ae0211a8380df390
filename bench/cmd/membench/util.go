package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 and
// *.crawl.test into dir and returns the cert and key paths.
func writeCert(dir string) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "membench"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost", "*.crawl.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	cp, kp := dir+"/cert.pem", dir+"/key.pem"
	if err := os.WriteFile(cp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", "", err
	}
	return cp, kp, nil
}
