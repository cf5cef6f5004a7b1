package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
)

// synHold holds the connection attempts to a paused endpoint in the kernel:
// an iptables rule queues their SYN packets (NFQUEUE) before address
// rewriting, and teal gives each its verdict only when the endpoint is
// released. The connection is then set up by the kernel rule, to the new
// target, so it is as fast as any other. Without it, a connection made
// during a hold is accepted by teal's listener and forwarded by teal for
// its whole life.
//
// The rule is "--queue-bypass": if teal is gone, SYNs pass and reach
// whatever listens. A SYN the queue drops (it is full) is sent again by the
// client a second later.
type synHold struct {
	table string // the kernel path's table, also the rules' comment
	num   uint16
	queue *nfqueue.Nfqueue
	stop  context.CancelFunc

	mu      sync.Mutex
	holding map[int]bool     // endpoint ports whose SYNs are queued
	queued  map[int][]uint32 // packet ids, by endpoint port
}

var staleRule = regexp.MustCompile(`--comment "?(` + tablePrefix + `(\d+)_\d+)"?`)

func iptablesPath() string { return sbinCommand("iptables") }

func iptables(args ...string) error {
	out, err := exec.Command(iptablesPath(), append([]string{"-w", "5", "-t", "raw"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// openSynHold binds a free queue number and removes the rules of processes
// that are gone.
func openSynHold(table string) (*synHold, error) {
	if iptablesPath() == "" {
		return nil, errors.New("the iptables command is not installed")
	}
	if out, err := exec.Command(iptablesPath(), "-w", "5", "-t", "raw", "-S", "OUTPUT").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			m := staleRule.FindStringSubmatch(line)
			if m == nil || !strings.HasPrefix(line, "-A OUTPUT ") {
				continue
			}
			if pid, _ := strconv.Atoi(m[2]); pid != os.Getpid() && !processRuns(pid) {
				iptables(strings.Fields("-D" + strings.TrimPrefix(line, "-A"))...)
			}
		}
	}
	h := &synHold{table: table, holding: map[int]bool{}, queued: map[int][]uint32{}}
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
			return h, nil
		}
		cancel()
		h.queue.Close()
	}
	return nil, fmt.Errorf("no free NFQUEUE number: %w", err)
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

func (h *synHold) rule(op string, port int) []string {
	return []string{op, "OUTPUT", "-d", "127.0.0.1", "-p", "tcp", "--dport", strconv.Itoa(port), "--syn",
		"-m", "comment", "--comment", h.table, "-j", "NFQUEUE", "--queue-num", strconv.Itoa(int(h.num)), "--queue-bypass"}
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
	if err := iptables(h.rule("-I", port)...); err != nil {
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
	return iptables(h.rule("-D", port)...)
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
