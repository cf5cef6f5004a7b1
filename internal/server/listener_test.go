package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// promptly bounds every wait in these tests. Without the listener's shedding
// a silent connection holds its place for ReadHeaderTimeout (10 s).
const promptly = 3 * time.Second

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// startAPI serves GET /healthz on ln through an apiListener with limit; the
// test's cleanup stops it and checks it had not stopped before.
func startAPI(t *testing.T, ln net.Listener, limit int) (string, *apiListener) {
	t.Helper()
	al := newAPIListener(ln, limit, testLogger())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	srv := newHTTPServer(mux, al, testLogger())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(al) }()
	t.Cleanup(func() {
		select {
		case err := <-errc:
			t.Errorf("the API stopped serving: %v", err)
			return
		default:
		}
		srv.Close()
		select {
		case <-errc:
		case <-time.After(promptly):
			t.Error("the API did not stop")
		}
	})
	return "http://" + ln.Addr().String(), al
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// healthz makes one request on a connection of its own and returns how long
// the answer took.
func healthz(t *testing.T, url string) time.Duration {
	t.Helper()
	client := &http.Client{Timeout: promptly, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz after %v: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("GET /healthz: %d %q %v", resp.StatusCode, body, err)
	}
	return time.Since(start)
}

// TestAPIFloodOfSilentConnections: connections that send nothing fill the
// API's cap, and more wait behind them; a client's request is still answered
// within seconds, because the silent ones are closed to make room.
func TestAPIFloodOfSilentConnections(t *testing.T) {
	url, al := startAPI(t, listen(t), 4)
	var flood []net.Conn
	for i := 0; i < 10; i++ {
		c, err := net.DialTimeout("tcp", url[len("http://"):], promptly)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		flood = append(flood, c)
	}
	deadline := time.Now().Add(promptly)
	for al.open() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the API holds %d connections, want its cap of 4", al.open())
		}
		time.Sleep(5 * time.Millisecond)
	}

	d := healthz(t, url)
	t.Logf("answered in %v behind 10 silent connections", d)
	if al.open() > 4 {
		t.Fatalf("the API holds %d connections, over its cap of 4", al.open())
	}
	// The first silent connections were closed to make room.
	flood[0].SetReadDeadline(time.Now().Add(promptly))
	if n, err := flood[0].Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a silent connection at the cap: read %d, %v; want it closed", n, err)
	}

	// The flood ends: the API answers at once.
	for _, c := range flood {
		c.Close()
	}
	if d := healthz(t, url); d > time.Second {
		t.Fatalf("after the flood the API answered in %v", d)
	}
}

// TestAPIIdleConnectionsMakeRoom: kept-alive connections idle between
// requests are closed at once when a new client needs their place.
func TestAPIIdleConnectionsMakeRoom(t *testing.T) {
	url, al := startAPI(t, listen(t), 2)
	for i := 0; i < 2; i++ {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		resp, err := (&http.Client{Timeout: promptly, Transport: tr}).Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if al.open() != 2 {
		t.Fatalf("the API holds %d kept-alive connections, want 2", al.open())
	}
	if d := healthz(t, url); d > newConnGrace {
		t.Fatalf("a client at the cap of idle connections waited %v", d)
	}
}

// failingListener fails its first accepts with the errors given.
type failingListener struct {
	net.Listener
	errs  []error
	calls atomic.Int32
}

func (f *failingListener) Accept() (net.Conn, error) {
	if i := int(f.calls.Add(1)) - 1; i < len(f.errs) {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: f.Addr(), Err: os.NewSyscallError("accept4", f.errs[i])}
	}
	return f.Listener.Accept()
}

// TestAPIAcceptErrors: running out of descriptors or buffers never stops the
// API (http.Server gives up on errors it does not consider temporary, like
// ENOBUFS); it backs off and serves again.
func TestAPIAcceptErrors(t *testing.T) {
	fl := &failingListener{Listener: listen(t), errs: []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EMFILE}}
	url, _ := startAPI(t, fl, 4)
	d := healthz(t, url)
	if n := int(fl.calls.Load()); n <= len(fl.errs) {
		t.Fatalf("%d accepts, want the %d failures and then success", n, len(fl.errs))
	}
	// Backing off from 5 ms, doubling: 155 ms for five failures.
	if d > time.Second {
		t.Fatalf("the API answered in %v after %d failed accepts", d, len(fl.errs))
	}
}
