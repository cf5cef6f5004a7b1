package proxy

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

func msg(typ byte, body ...byte) []byte {
	out := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(4+len(body)))
	return append(out, body...)
}

func TestTrackerFollowsReadyForQuery(t *testing.T) {
	stream := append(append(append(msg('R', 0, 0, 0, 0), msg('S', []byte("a\x00b\x00")...)...), msg('Z', 'I')...), msg('C', []byte("BEGIN\x00")...)...)
	stream = append(stream, msg('Z', 'T')...)
	// Fed whole, then byte by byte: the same states.
	for _, chunk := range []int{len(stream), 1, 3, 7} {
		var tr pgTracker
		var boundaries int
		for i := 0; i < len(stream); i += chunk {
			end := min(i+chunk, len(stream))
			if tr.feed(stream[i:end]) {
				boundaries++
			}
		}
		if tr.status != txInBlock {
			t.Errorf("chunk %d: status %q, want T", chunk, tr.status)
		}
		if chunk == 1 && boundaries != 1 {
			t.Errorf("chunk 1: %d idle boundaries, want 1", boundaries)
		}
	}
	var tr pgTracker
	if !tr.feed(append(msg('C', []byte("COMMIT\x00")...), msg('Z', 'I')...)) || tr.status != txIdle {
		t.Fatalf("commit then idle: status %q", tr.status)
	}
	if tr.feed(append(msg('Z', 'I'), msg('D', 1, 2)...)) {
		t.Fatal("a chunk that goes on after ReadyForQuery is not at a boundary")
	}
}

func TestTrackerSSL(t *testing.T) {
	tr := pgTracker{pendingByte: true}
	tr.feed([]byte{'N'})
	if tr.opaque {
		t.Fatal("'N' made the stream opaque")
	}
	tr.feed(msg('Z', 'I'))
	if tr.status != txIdle {
		t.Fatalf("status %q after N", tr.status)
	}
	tr = pgTracker{pendingByte: true}
	tr.feed([]byte{'S', 0x16, 0x03})
	if !tr.opaque || tr.status != txUnknown {
		t.Fatal("TLS was not treated as opaque")
	}
}

// fakePostgres answers just enough of the PostgreSQL protocol: a startup is
// answered with AuthenticationOk and ReadyForQuery; each simple query with
// CommandComplete and ReadyForQuery, in a transaction after BEGIN until
// COMMIT.
func fakePostgres(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				if _, _, err := readStartup(c); err != nil {
					return
				}
				c.Write(append(msg('R', 0, 0, 0, 0), msg('Z', 'I')...))
				status := byte('I')
				for {
					var head [5]byte
					if _, err := io.ReadFull(c, head[:]); err != nil {
						return
					}
					body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
					if _, err := io.ReadFull(c, body); err != nil {
						return
					}
					switch string(bytes.TrimRight(body, "\x00")) {
					case "BEGIN":
						status = 'T'
					case "COMMIT":
						status = 'I'
					}
					c.Write(append(msg('C', []byte("OK\x00")...), msg('Z', status)...))
				}
			}(c)
		}
	}()
	return ln.Addr().String()
}

// pgClient is a client session through the proxy.
type pgClient struct {
	c net.Conn
}

func startPG(t *testing.T, port int) *pgClient {
	t.Helper()
	c := dial(t, port)
	startup := make([]byte, 8)
	binary.BigEndian.PutUint32(startup, 8)
	binary.BigEndian.PutUint32(startup[4:], 196608)
	c.Write(startup)
	p := &pgClient{c: c}
	if st := p.readUntilReady(t); st != 'I' {
		t.Fatalf("after startup: %q", st)
	}
	return p
}

// query sends a simple query and returns the transaction state after it.
func (p *pgClient) query(t *testing.T, q string) (byte, error) {
	t.Helper()
	if _, err := p.c.Write(msg('Q', append([]byte(q), 0)...)); err != nil {
		return 0, err
	}
	return p.readUntilReadyErr()
}

func (p *pgClient) readUntilReady(t *testing.T) byte {
	t.Helper()
	st, err := p.readUntilReadyErr()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (p *pgClient) readUntilReadyErr() (byte, error) {
	p.c.SetReadDeadline(time.Now().Add(promptly))
	defer p.c.SetReadDeadline(time.Time{})
	for {
		var head [5]byte
		if _, err := io.ReadFull(p.c, head[:]); err != nil {
			return 0, err
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(p.c, body); err != nil {
			return 0, err
		}
		if head[0] == 'Z' {
			return body[0], nil
		}
	}
}

// TestDrainAtTransactionBoundary: a drain ends an idle session at once, lets
// a session in a transaction finish it and ends it right after COMMIT's
// answer, and cuts one still in a transaction at the deadline.
func TestDrainAtTransactionBoundary(t *testing.T) {
	m := newTestManager(t)
	port := openEndpoint(t, m, "db", fakePostgres(t))
	if err := m.SetProtocol("db", ProtocolPostgres); err != nil {
		t.Fatal(err)
	}
	idle, inTx, stuck := startPG(t, port), startPG(t, port), startPG(t, port)
	for _, p := range []*pgClient{inTx, stuck} {
		if st, err := p.query(t, "BEGIN"); err != nil || st != 'T' {
			t.Fatalf("BEGIN: %q %v", st, err)
		}
	}
	type result struct{ clean, cut int }
	done := make(chan result, 1)
	go func() {
		c, k := m.Drain("db", time.Now().Add(time.Second))
		done <- result{c, k}
	}()
	expectClosed(t, idle.c, idle.c)
	// The session in a transaction goes on until it commits.
	if st, err := inTx.query(t, "INSERT"); err != nil || st != 'T' {
		t.Fatalf("statement in the transaction during the drain: %q %v", st, err)
	}
	if st, err := inTx.query(t, "COMMIT"); err != nil || st != 'I' {
		t.Fatalf("COMMIT during the drain: %q %v", st, err)
	}
	// ... and ends right after: its next statement never reaches the server.
	if _, err := inTx.query(t, "INSERT"); err == nil {
		t.Fatal("a drained session served another statement")
	}
	select {
	case r := <-done:
		if r.clean != 2 || r.cut != 1 {
			t.Fatalf("drain: %d between transactions, %d cut; want 2 and 1", r.clean, r.cut)
		}
	case <-time.After(promptly):
		t.Fatal("drain did not return after its deadline")
	}
	expectClosed(t, stuck.c, stuck.c)
	if m.Conns("db") != 0 {
		t.Fatalf("%d connections left", m.Conns("db"))
	}
}
