package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The kernel path forwards an endpoint's connections without teal in the
// data path: an nftables DNAT rule rewrites a new connection to
// 127.0.0.1:endpoint into one to the server's own port, so the session costs
// what a direct connection costs. teal's listener stays bound to the
// endpoint port and takes every connection the rule does not rewrite:
//
//   - While an endpoint is paused, its rule is gone and connection attempts
//     are held in the kernel (synhold.go) until the rule points at the new
//     target; where they cannot be, they reach the listener, are held
//     there, and are forwarded by teal for their whole life.
//   - A session that went through the rule is never seen by teal. A
//     switchover ends such sessions at the server, between transactions (see
//     the engines' DrainSessions); a change of target ends them with
//     SOCK_DESTROY, so the proxy still fails closed.
//
// It needs CAP_NET_ADMIN and the nft command. Each Manager owns one nftables
// table, named after its process, which it replaces on start and deletes on
// Close; tables left by processes that are gone are removed by the next
// Manager that enables the kernel path.
type kernelPath struct {
	table string
	// syn holds connection attempts in the kernel during a pause; nil
	// where that cannot work (synhold.go), and then teal's listener holds
	// them.
	syn    *synHold
	synErr error
	mu     sync.Mutex
	// routes is what the table's map holds: endpoint port -> backend port.
	routes map[int]int
}

// tableSeq tells apart the Managers of one process (tests run several).
var tableSeq atomic.Uint32

const tablePrefix = "teal_"

var staleTable = regexp.MustCompile(`(?m)^table ip (` + tablePrefix + `(\d+)_\d+)$`)

// openKernelPath creates this Manager's nftables table, after removing those
// of processes that no longer run.
func openKernelPath() (*kernelPath, error) {
	if nftPath() == "" {
		return nil, errors.New("the nft command is not installed")
	}
	out, err := nft("list tables ip\n")
	if err != nil {
		return nil, err
	}
	var script strings.Builder
	for _, m := range staleTable.FindAllStringSubmatch(string(out), -1) {
		pid, _ := strconv.Atoi(m[2])
		if pid != os.Getpid() && !processRuns(pid) {
			fmt.Fprintf(&script, "delete table ip %s\n", m[1])
		}
	}
	k := &kernelPath{
		table:  fmt.Sprintf("%s%d_%d", tablePrefix, os.Getpid(), tableSeq.Add(1)),
		routes: make(map[int]int),
	}
	// Only connections from this host to 127.0.0.1 pass the output hook, so
	// the rule never touches traffic from elsewhere.
	fmt.Fprintf(&script, `table ip %[1]s
delete table ip %[1]s
table ip %[1]s {
	map endpoints { type inet_service : ipv4_addr . inet_service; }
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 127.0.0.1 dnat ip to tcp dport map @endpoints
	}
}
`, k.table)
	if _, err := nft(script.String()); err != nil {
		return nil, err
	}
	k.syn, k.synErr = openSynHold(k.table)
	return k, nil
}

func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// set makes connections to 127.0.0.1:port go straight to backend, or, with
// backend "", to teal's listener.
func (k *kernelPath) set(port int, backend string) error {
	to := 0
	if backend != "" {
		host, p, err := net.SplitHostPort(backend)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(host); ip == nil || !ip.Equal(net.IPv4(127, 0, 0, 1)) {
			// The rule only rewrites the port on loopback.
			return fmt.Errorf("kernel path: backend %s is not on 127.0.0.1", backend)
		}
		if to, err = strconv.Atoi(p); err != nil {
			return err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.routes[port] == to {
		return nil
	}
	var script strings.Builder
	if _, ok := k.routes[port]; ok {
		fmt.Fprintf(&script, "delete element ip %s endpoints { %d }\n", k.table, port)
	}
	if to != 0 {
		fmt.Fprintf(&script, "add element ip %s endpoints { %d : 127.0.0.1 . %d }\n", k.table, port, to)
	}
	if _, err := nft(script.String()); err != nil {
		return err
	}
	if to == 0 {
		delete(k.routes, port)
	} else {
		k.routes[port] = to
	}
	return nil
}

// close deletes the table. Sessions already rewritten keep going: the kernel
// remembers each connection's rewrite.
func (k *kernelPath) close() error {
	if k.syn != nil {
		k.syn.close()
	}
	_, err := nft(fmt.Sprintf("delete table ip %s\n", k.table))
	return err
}

// sbinCommand finds an administration command, which lives in /usr/sbin,
// not always on PATH; "" if it is not installed.
func sbinCommand(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func nftPath() string { return sbinCommand("nft") }

// nft runs an nft script as one atomic transaction.
func nft(script string) ([]byte, error) {
	cmd := exec.Command(nftPath(), "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("nft: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// destroySessions aborts every connection the kernel forwards from
// 127.0.0.1:port to a server, and returns how many it aborted. The client
// sees ECONNABORTED, and the server a reset. A client socket connected to
// the endpoint port is kernel-forwarded unless teal's listener holds its
// other end (accepted or still queued).
func destroySessions(port int) (int, error) {
	socks, err := netlink.SocketDiagTCP(unix.AF_INET)
	if err != nil {
		return 0, fmt.Errorf("list sockets: %w", err)
	}
	loopback := net.IPv4(127, 0, 0, 1)
	listened := make(map[uint16]bool)
	for _, s := range socks {
		if int(s.ID.SourcePort) == port && s.ID.Source.Equal(loopback) {
			listened[s.ID.DestinationPort] = true
		}
	}
	n := 0
	var errs []error
	for _, s := range socks {
		id := s.ID
		if int(id.DestinationPort) != port || !id.Destination.Equal(loopback) || listened[id.SourcePort] {
			continue
		}
		switch s.State {
		case netlink.TCP_LISTEN, netlink.TCP_CLOSE, netlink.TCP_TIME_WAIT:
			continue
		case netlink.TCP_SYN_SENT:
			// An attempt not yet answered: held (synhold.go), not forwarded.
			continue
		}
		local := &net.TCPAddr{IP: id.Source, Port: int(id.SourcePort)}
		remote := &net.TCPAddr{IP: id.Destination, Port: port}
		if err := netlink.SocketDestroy(local, remote); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
