package main

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPerConnKiBIsSignedAndGuardsZero(t *testing.T) {
	require.InDelta(t, 2.0, perConnKiB(1<<20, 1<<20+4*2048, 4), 1e-9)
	require.InDelta(t, -1.0, perConnKiB(2048, 0, 2), 1e-9)
	require.Equal(t, 0.0, perConnKiB(0, 1024, 0))
}

func TestHostAddrMapsRoundRobinOverPorts(t *testing.T) {
	ports := []int{1001, 1002, 1003}
	for i, want := range []string{"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003", "127.0.0.1:1001"} {
		got, err := hostAddr(hostName(i), ports)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	got, err := hostAddr(hostName(4)+":443", ports)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1002", got)
	for _, bad := range []string{"example.com", "h.crawl.test", "hx.crawl.test", "h-1.crawl.test", "h1.other"} {
		_, err := hostAddr(bad, ports)
		require.Error(t, err, bad)
	}
	require.Equal(t, "http://h4.crawl.test:1002/", crawlURL(4, ports))
	addr, err := hostAddr("h4.crawl.test:1002", ports)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1002", addr, "the URL's port and the mapped port agree")
	_, err = hostAddr(hostName(1), nil)
	require.Error(t, err)
}

func TestParseVmRSS(t *testing.T) {
	require.Equal(t, uint64(1234*1024), parseVmRSS([]byte("Name:\tx\nVmRSS:\t    1234 kB\nVmSwap: 0 kB\n")))
	require.Equal(t, uint64(0), parseVmRSS([]byte("Name:\tx\n")))
}

func TestWriteCertsMakesChainsThatVerifyFor127001(t *testing.T) {
	certs, err := writeCerts(t.TempDir())
	require.NoError(t, err)
	for _, tt := range []struct {
		kind             string
		sent, chain      int    // certificates the server sends; in the verified chain
		leafKey, rootSig string // the leaf's key, the root's own signature
	}{
		{certSelf, 1, 1, "ECDSA", "ECDSA-SHA256"},
		{certECDSA, 2, 3, "ECDSA", "ECDSA-SHA384"},
		{certRSA, 2, 3, "RSA", "SHA256-RSA"},
	} {
		f, ok := certs[tt.kind]
		require.True(t, ok, tt.kind)
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		require.NoError(t, err, tt.kind)
		require.Len(t, pair.Certificate, tt.sent, "%q: the leaf, and the intermediate of a chain (never its root)", tt.kind)
		roots, err := loadRoots(f.Root)
		require.NoError(t, err, tt.kind)
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		require.NoError(t, err)
		require.Equal(t, tt.leafKey, leaf.PublicKeyAlgorithm.String(), tt.kind)
		inter := x509.NewCertPool()
		for _, der := range pair.Certificate[1:] {
			c, err := x509.ParseCertificate(der)
			require.NoError(t, err)
			inter.AddCert(c)
		}
		for _, name := range []string{"127.0.0.1", "h7.crawl.test"} {
			chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name})
			require.NoError(t, err, "%q %s", tt.kind, name)
			require.Len(t, chains[0], tt.chain, tt.kind)
			require.Equal(t, tt.rootSig, chains[0][len(chains[0])-1].SignatureAlgorithm.String(), tt.kind)
		}
	}
}
