package proxy

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// synHold holds the connection attempts to a paused endpoint in the kernel:
// the kernel path's hold chain queues (NFQUEUE) the SYN packets sent to the
// ports in its held set, before address rewriting, and teal gives each its
// verdict only when the endpoint is released. The connection is then set up
// by the kernel rule, to the new target, so it is as fast as any other.
// Without it, a connection made during a hold is accepted by teal's listener
// and forwarded by teal for its whole life.
//
// The queue is bypassed when no one reads it: if teal is gone, SYNs pass and
// reach whatever listens. A SYN the queue drops (it is full) is sent again
// by the client a second later.
type synHold struct {
	k     *kernelPath
	num   uint16
	queue *nfqueue.Nfqueue
	stop  context.CancelFunc

	mu      sync.Mutex
	holding map[int]bool     // endpoint ports whose SYNs are queued
	queued  map[int][]uint32 // packet ids, by endpoint port
}

// nfqueueInfo is the NFQUEUE target's xt_NFQ_info_v3 for queue num with
// the bypass flag, padded as the kernel aligns it.
func nfqueueInfo(num uint16) []byte {
	const bypass = 1
	info := make([]byte, 8)
	binary.NativeEndian.PutUint16(info[0:], num) // queuenum
	binary.NativeEndian.PutUint16(info[2:], 1)   // queues_total
	binary.NativeEndian.PutUint16(info[4:], bypass)
	return info
}

// openSynHold binds a free queue number and adds the rule that queues the
// SYNs sent to held ports.
func openSynHold(k *kernelPath) (*synHold, error) {
	h := &synHold{k: k, holding: map[int]bool{}, queued: map[int][]uint32{}}
	start := 1000 + (os.Getpid()*7+int(tableSeq.Load()))%50000
	var err error
	for i := 0; i < 50; i++ {
		h.num = uint16(start + i)
		h.queue, err = nfqueue.Open(&nfqueue.Config{NfQueue: h.num, MaxPacketLen: 64, MaxQueueLen: 4096,
			Copymode: nfqueue.NfQnlCopyPacket, WriteTimeout: time.Second})
		if err != nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err = h.queue.RegisterWithErrorFunc(ctx, h.packet, func(error) int { return 0 }); err == nil {
			h.stop = cancel
			break
		}
		cancel()
		h.queue.Close()
		h.queue = nil
	}
	if h.queue == nil {
		return nil, fmt.Errorf("no free NFQUEUE number: %w", err)
	}
	info := xt.Unknown(nfqueueInfo(h.num))
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, chain := range k.hold {
		k.conn.AddRule(&nftables.Rule{Table: k.table, Chain: chain, Exprs: append(k.toEndpoint(),
			&expr.Lookup{SourceRegister: 1, SetName: k.held.Name, SetID: k.held.ID},
			// tcp flags & (syn | ack) == syn
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x02}},
			&expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info},
		)})
	}
	if err := k.conn.Flush(); err != nil {
		h.stop()
		h.queue.Close()
		return nil, fmt.Errorf("nftables: queueing rule: %w", err)
	}
	return h, nil
}

// packet takes a queued SYN: held if its endpoint is paused, passed at
// once otherwise (it came in just as the endpoint was released).
func (h *synHold) packet(a nfqueue.Attribute) int {
	if a.PacketID == nil {
		return 0
	}
	port := -1
	if a.Payload != nil {
		p := *a.Payload
		if len(p) >= 20 {
			if ihl := int(p[0]&0xf) * 4; len(p) >= ihl+4 {
				port = int(binary.BigEndian.Uint16(p[ihl+2:]))
			}
		}
	}
	h.mu.Lock()
	if h.holding[port] {
		h.queued[port] = append(h.queued[port], *a.PacketID)
		h.mu.Unlock()
		return 0
	}
	h.mu.Unlock()
	h.queue.SetVerdict(*a.PacketID, nfqueue.NfAccept)
	return 0
}

// hold starts queueing the SYNs sent to port.
func (h *synHold) hold(port int) error {
	h.mu.Lock()
	if h.holding[port] {
		h.mu.Unlock()
		return nil
	}
	h.holding[port] = true
	h.mu.Unlock()
	if err := h.k.setHeld(port, true); err != nil {
		h.mu.Lock()
		delete(h.holding, port)
		h.mu.Unlock()
		return err
	}
	return nil
}

// release passes the SYNs queued for port, which then go where the kernel
// path sends them, and stops queueing.
func (h *synHold) release(port int) error {
	h.mu.Lock()
	was := h.holding[port]
	h.mu.Unlock()
	if !was {
		return nil
	}
	// Waiting clients go first; a SYN queued until the rule is gone passes
	// at once (see packet).
	h.mu.Lock()
	delete(h.holding, port)
	ids := h.queued[port]
	delete(h.queued, port)
	h.mu.Unlock()
	for _, id := range ids {
		h.queue.SetVerdict(id, nfqueue.NfAccept)
	}
	return h.k.setHeld(port, false)
}

func (h *synHold) count(port int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queued[port])
}

func (h *synHold) close() {
	h.mu.Lock()
	var ports []int
	for p := range h.holding {
		ports = append(ports, p)
	}
	h.mu.Unlock()
	for _, p := range ports {
		h.release(p)
	}
	h.stop()
	h.queue.Close()
}
