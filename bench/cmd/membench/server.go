// The server process: plain and TLS listeners on 127.0.0.1 and a control
// port. /hold blocks until /ctl/release; /close answers Connection: close;
// /ctl/stats reports (and resets) TLS handshakes and how many resumed.

package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type serverInfo struct {
	Plain []int            `json:"plain"`
	TLS   map[string][]int `json:"tls"` // by certificate kind
	Ctl   int              `json:"ctl"`
}

type srvState struct {
	mu        sync.Mutex
	release   chan struct{}
	held      atomic.Int64
	open      atomic.Int64
	handshake atomic.Int64
	resumed   atomic.Int64
}

func serveMain(nPlain, nTLS int, certsJSON string) {
	raiseNoFile()
	st := &srvState{release: make(chan struct{})}
	tlsConfig := func(certFile, keyFile string) *tls.Config {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			fatal("server: %v", err)
		}
		return &tls.Config{
			Certificates: []tls.Certificate{cert},
			VerifyConnection: func(cs tls.ConnectionState) error {
				st.handshake.Add(1)
				if cs.DidResume {
					st.resumed.Add(1)
				}
				return nil
			},
		}
	}
	var certs map[string]certFile
	if err := json.Unmarshal([]byte(certsJSON), &certs); err != nil {
		fatal("server: -certs: %v", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hold":
			st.mu.Lock()
			ch := st.release
			st.mu.Unlock()
			st.held.Add(1)
			select {
			case <-ch:
			case <-time.After(5 * time.Minute): // bound: never hold forever
			case <-r.Context().Done():
			}
			st.held.Add(-1)
		case "/close":
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "hello, world\n")
	})
	var info serverInfo
	listen := func(tcfg *tls.Config) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatal("server: %v", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				st.open.Add(1)
			case http.StateClosed, http.StateHijacked:
				st.open.Add(-1)
			}
		}}
		if tcfg != nil {
			srv.TLSConfig = tcfg
			go srv.Serve(tls.NewListener(ln, tcfg))
		} else {
			go srv.Serve(ln)
		}
		return ln.Addr().(*net.TCPAddr).Port
	}
	for range nPlain {
		info.Plain = append(info.Plain, listen(nil))
	}
	info.TLS = map[string][]int{}
	for _, k := range certKinds {
		tcfg := tlsConfig(certs[k].Cert, certs[k].Key)
		for range nTLS {
			info.TLS[k] = append(info.TLS[k], listen(tcfg))
		}
	}
	ctl := http.NewServeMux()
	ctl.HandleFunc("/ctl/held", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%d %d", st.held.Load(), st.open.Load())
	})
	ctl.HandleFunc("/ctl/release", func(w http.ResponseWriter, _ *http.Request) {
		st.mu.Lock()
		close(st.release)
		st.release = make(chan struct{})
		st.mu.Unlock()
	})
	ctl.HandleFunc("/ctl/stats", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%d %d", st.handshake.Swap(0), st.resumed.Swap(0))
	})
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal("server: %v", err)
	}
	info.Ctl = cln.Addr().(*net.TCPAddr).Port
	go http.Serve(cln, ctl)
	b, _ := json.Marshal(info)
	fmt.Println(string(b))
	// Exit when the parent closes our stdin (or dies).
	io.Copy(io.Discard, os.Stdin)
}

// ctlGet asks the server's control port; it returns the body's integers.
func ctlGet(ctl int, path string) ([]int64, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(ctl) + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, f := range splitFields(string(b)) {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ctl %s: bad reply %q", path, b)
		}
		out = append(out, v)
	}
	return out, nil
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "membench: "+format+"\n", args...)
	os.Exit(1)
}
