// Conn buffers recycled at close are never shared by two live exchanges.

package asynchttp

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynchttp/asynchttp/internal/testserver"
)

// bodyFor is the body the server sends for request id: distinct per id and
// longer than a conn's 4 KiB read buffer.
func bodyFor(id string) string {
	return strings.Repeat("<"+id+">", 6000/(len(id)+2)+1)
}

// TestRecycledBuffersNeverMixExchanges churns conns (Connection:
// close, early 413s, bodies closed early, cancellations, handler aborts,
// full-duplex echoes) so that buffers of closed conns are recycled into new
// ones while other exchanges run; every body read to its end must be its
// own request's, and nothing may panic on a recycled (nil) buffer.
func TestRecycledBuffersNeverMixExchanges(t *testing.T) {
	c := newCheckedClient(t, Config{MaxConnsPerHost: 3, MaxTotalConns: 4, ExpectContinueTimeout: 20 * time.Millisecond})
	srv := testserver.NewCounting(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/") // /id/mode
		id, mode := parts[1], parts[2]
		switch mode {
		case "close":
			w.Header().Set("Connection", "close")
		case "gz":
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, bodyFor(id))
			zw.Close()
			return
		case "echo":
			body, _ := io.ReadAll(r.Body)
			w.Write(body)
			return
		case "refuse":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, bodyFor(id))
	}))
	hc := &http.Client{Transport: c}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const workers, rounds = 12, 40
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 4))
			for i := range rounds {
				if ctx.Err() != nil {
					t.Errorf("worker %d: out of time", g)
					return
				}
				id := strconv.Itoa(g*1000 + i)
				if err := mixedExchange(ctx, c, hc, srv.URL(), id, rng.IntN(7), rng); err != nil {
					t.Errorf("worker %d op %s: %v", g, id, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// mixedExchange runs one exchange of kind op and checks what it read.
func mixedExchange(ctx context.Context, c *Client, hc *http.Client, base, id string, op int, rng *rand.Rand) error {
	want := bodyFor(id)
	switch op {
	case 0, 1: // Do, keep-alive or Connection: close
		mode := "plain"
		if op == 1 {
			mode = "close"
		}
		req, resp := AcquireRequest(), AcquireResponse()
		defer ReleaseRequest(req)
		defer ReleaseResponse(resp)
		req.SetRequestURI(base + "/" + id + "/" + mode)
		if err := c.Do(ctx, req, resp); err != nil {
			return err
		}
		if string(resp.Body()) != want {
			return fmt.Errorf("Do: body of another request (%.20q)", resp.Body())
		}
	case 2: // RoundTrip, gzip, read to the end
		hr, err := hc.Get(base + "/" + id + "/gz")
		if err != nil {
			return err
		}
		b, err := io.ReadAll(hr.Body)
		hr.Body.Close()
		if err != nil {
			return err
		}
		if string(b) != want {
			return fmt.Errorf("RoundTrip gz: body of another request (%.20q)", b)
		}
	case 3: // RoundTrip, body closed early (drained or closed)
		hr, err := hc.Get(base + "/" + id + "/close")
		if err != nil {
			return err
		}
		var part [100]byte
		n, _ := io.ReadFull(hr.Body, part[:])
		hr.Body.Close()
		if string(part[:n]) != want[:n] {
			return fmt.Errorf("RoundTrip: first bytes of another request (%q)", part[:n])
		}
	case 4: // full-duplex echo of a streamed body, or a 413 before the body
		mode := "echo"
		if rng.IntN(2) == 0 {
			mode = "refuse"
		}
		pr, pw := io.Pipe()
		go func() {
			for j := 0; j < len(want); j += 1000 {
				if _, err := io.WriteString(pw, want[j:min(j+1000, len(want))]); err != nil {
					return
				}
			}
			pw.Close()
		}()
		hreq, _ := http.NewRequestWithContext(ctx, "POST", base+"/"+id+"/"+mode, pr)
		if rng.IntN(2) == 0 {
			hreq.Header.Set("Expect", "100-continue")
		}
		hr, err := hc.Do(hreq)
		pr.CloseWithError(errors.New("done")) // ends the writer whatever happened
		if err != nil {
			if mode == "refuse" {
				return nil // the server may cut the upload: not what this probes
			}
			return err
		}
		b, err := io.ReadAll(hr.Body)
		hr.Body.Close()
		if err != nil {
			return err
		}
		if mode == "echo" && string(b) != want {
			return fmt.Errorf("echo: body of another request (%.20q)", b)
		}
	case 5: // canceled at a random moment: any outcome, but a body read whole is ours
		cctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(400))*time.Microsecond)
		defer cancel()
		req, resp := AcquireRequest(), AcquireResponse()
		defer ReleaseRequest(req)
		defer ReleaseResponse(resp)
		req.SetRequestURI(base + "/" + id + "/plain")
		if err := c.Do(cctx, req, resp); err == nil && string(resp.Body()) != want {
			return fmt.Errorf("canceled Do: body of another request (%.20q)", resp.Body())
		}
	case 6: // a Handler that aborts after the first part
		req := AcquireRequest()
		defer ReleaseRequest(req)
		req.SetRequestURI(base + "/" + id + "/plain")
		h := &firstPartHandler{}
		resp, err := c.ExecuteHandler(ctx, req, h).Wait()
		if resp != nil {
			ReleaseResponse(resp)
		}
		if !errors.Is(err, ErrAborted) {
			return fmt.Errorf("handler: %v", err)
		}
		if !strings.HasPrefix(want, h.first) {
			return fmt.Errorf("handler: first part of another request (%.20q)", h.first)
		}
	}
	return nil
}

// firstPartHandler keeps the first body part and aborts.
type firstPartHandler struct{ first string }

func (h *firstPartHandler) OnStatus(*Response) Action  { return Continue }
func (h *firstPartHandler) OnHeaders(*Response) Action { return Continue }
func (h *firstPartHandler) OnBodyPart(p []byte) Action {
	h.first = string(p)
	return Abort
}
func (h *firstPartHandler) OnComplete(*Response) {}
func (h *firstPartHandler) OnError(error)        {}
