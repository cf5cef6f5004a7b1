package proxy

import (
	"encoding/binary"
	"io"
	"net"
)

// Transaction states from PostgreSQL's ReadyForQuery message.
const (
	txUnknown byte = 0   // not yet seen, or the stream is opaque (TLS)
	txIdle    byte = 'I' // between transactions: a safe boundary
	txInBlock byte = 'T'
	txFailed  byte = 'E'
)

// Startup request codes that precede a one-byte answer from the server.
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
)

// pgTracker follows the server-to-client half of a PostgreSQL connection
// message by message, so the proxy knows when the session is between
// transactions. It only reads: the bytes are forwarded unchanged.
type pgTracker struct {
	// pendingByte: the server's next byte is the one-byte answer to an
	// SSLRequest or GSSENCRequest ('S'/'G' means encryption: opaque from
	// then on; 'N' means plain messages follow).
	pendingByte bool
	opaque      bool

	header [5]byte // type and length of the message being read
	have   int     // header bytes seen
	left   uint32  // body bytes of the current message still to come
	isRFQ  bool    // the current message is ReadyForQuery
	status byte    // last transaction state seen
}

// feed advances the tracker over p. It returns true when p ended exactly
// after a ReadyForQuery saying idle: the session is at a boundary.
func (t *pgTracker) feed(p []byte) (atIdleBoundary bool) {
	for len(p) > 0 && !t.opaque {
		atIdleBoundary = false
		if t.pendingByte {
			t.pendingByte = false
			if p[0] == 'S' || p[0] == 'G' {
				t.opaque = true
				t.status = txUnknown
				return false
			}
			p = p[1:]
			continue
		}
		if t.left == 0 && t.have < 5 {
			n := copy(t.header[t.have:], p)
			t.have += n
			p = p[n:]
			if t.have < 5 {
				return false
			}
			length := binary.BigEndian.Uint32(t.header[1:])
			if length < 4 {
				// Not the protocol we expected: stop interpreting.
				t.opaque = true
				t.status = txUnknown
				return false
			}
			t.left = length - 4
			t.isRFQ = t.header[0] == 'Z' && t.left == 1
			if t.left == 0 {
				t.have = 0
			}
			continue
		}
		n := uint32(len(p))
		if n > t.left {
			n = t.left
		}
		if t.isRFQ && n > 0 {
			t.status = p[n-1]
		}
		t.left -= n
		p = p[n:]
		if t.left == 0 {
			t.have = 0
			if t.isRFQ {
				atIdleBoundary = t.status == txIdle
			}
		}
	}
	return atIdleBoundary && len(p) == 0
}

// readStartup reads the client's first message (a startup packet, or an
// SSLRequest / GSSENCRequest) whole, so the tracker knows whether the
// server's next byte is a one-byte answer.
func readStartup(client net.Conn) ([]byte, bool, error) {
	var head [8]byte
	if _, err := io.ReadFull(client, head[:4]); err != nil {
		return nil, false, err
	}
	length := binary.BigEndian.Uint32(head[:4])
	if length < 8 || length > 10000 {
		// Not a PostgreSQL startup: forward as is, opaque.
		return head[:4], false, nil
	}
	msg := make([]byte, length)
	copy(msg, head[:4])
	if _, err := io.ReadFull(client, msg[4:]); err != nil {
		return nil, false, err
	}
	code := binary.BigEndian.Uint32(msg[4:8])
	return msg, length == 8 && (code == sslRequestCode || code == gssEncRequestCode), nil
}
