package proxy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
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
// It needs CAP_NET_ADMIN; teal speaks to nftables over netlink itself. Each
// Manager owns one nftables table, named after its process, which holds
// everything it adds to the kernel:
//
//	table ip teal_<pid>_<n> {
//		map endpoints { type inet_service : ipv4_addr . inet_service; }
//		set held { type inet_service; }
//		chain hold {
//			type filter hook output priority raw; policy accept;
//			ip daddr 127.0.0.1 tcp dport @held tcp flags syn / syn,ack queue num <n> bypass
//		}
//		chain output {
//			type nat hook output priority -100; policy accept;
//			ip daddr 127.0.0.1 dnat ip to tcp dport map @endpoints
//		}
//	}
//
// Only connections from this host to 127.0.0.1 pass the output hook, so the
// rules never touch traffic from elsewhere. The table is made on start and
// deleted on Close; tables left by processes that are gone are removed by
// the next Manager that enables the kernel path.
type kernelPath struct {
	// mu orders the changes to the table: each is one netlink batch on
	// conn, which must not interleave with another.
	mu        sync.Mutex
	conn      *nftables.Conn
	table     *nftables.Table
	endpoints *nftables.Set // endpoint port -> 127.0.0.1 . server port
	held      *nftables.Set // endpoint ports whose connection attempts are queued
	hold      *nftables.Chain
	// syn holds connection attempts in the kernel during a pause; nil
	// where that cannot work (synhold.go), and then teal's listener holds
	// them.
	syn    *synHold
	synErr error
	// routes is what the endpoints map holds: endpoint port -> server port.
	routes map[int]int
}

// tableSeq tells apart the Managers of one process (tests run several).
var tableSeq atomic.Uint32

const tablePrefix = "teal_"

var tableName = regexp.MustCompile(`^` + tablePrefix + `(\d+)_(\d+)$`)

// toLoopback are the expressions that match a TCP packet to 127.0.0.1 and
// leave its destination port in register 1.
func toLoopback() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}, // ip daddr
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net.IPv4(127, 0, 0, 1).To4()},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, // tcp dport
	}
}

// openKernelPath creates this Manager's nftables table, after removing those
// of processes that no longer run.
func openKernelPath() (*kernelPath, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("nftables: list tables: %w", err)
	}
	// This process's own tables are those it numbered so far; one of its
	// pid with a higher number is a process's that had the same pid before.
	issued := int(tableSeq.Add(1))
	for _, t := range tables {
		m := tableName.FindStringSubmatch(t.Name)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		if pid == os.Getpid() && n >= issued || pid != os.Getpid() && !processRuns(pid) {
			conn.DelTable(t)
		}
	}
	k := &kernelPath{conn: conn, routes: make(map[int]int)}
	k.table = conn.CreateTable(&nftables.Table{Family: nftables.TableFamilyIPv4,
		Name: fmt.Sprintf("%s%d_%d", tablePrefix, os.Getpid(), issued)})
	k.endpoints = &nftables.Set{Table: k.table, Name: "endpoints", IsMap: true, KeyType: nftables.TypeInetService,
		DataType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)}
	k.held = &nftables.Set{Table: k.table, Name: "held", KeyType: nftables.TypeInetService}
	for _, set := range []*nftables.Set{k.endpoints, k.held} {
		if err := conn.AddSet(set, nil); err != nil {
			return nil, fmt.Errorf("nftables: %w", err)
		}
	}
	k.hold = conn.AddChain(&nftables.Chain{Name: "hold", Table: k.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityRaw})
	output := conn.AddChain(&nftables.Chain{Name: "output", Table: k.table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	conn.AddRule(&nftables.Rule{Table: k.table, Chain: output, Exprs: append(toLoopback(),
		// The map's value is address . port, in registers 1 and 9.
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: k.endpoints.Name, SetID: k.endpoints.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9, Specified: true},
	)})
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("nftables: create table %s: %w", k.table.Name, err)
	}
	k.syn, k.synErr = openSynHold(k)
	return k, nil
}

func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func portKey(port int) []byte { return binaryutil.BigEndian.PutUint16(uint16(port)) }

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
	if _, ok := k.routes[port]; ok {
		if err := k.conn.SetDeleteElements(k.endpoints, []nftables.SetElement{{Key: portKey(port)}}); err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
	}
	if to != 0 {
		// Each part of a concatenation takes a whole 4-byte register.
		val := append(net.IPv4(127, 0, 0, 1).To4(), portKey(to)...)
		val = append(val, 0, 0)
		if err := k.conn.SetAddElements(k.endpoints, []nftables.SetElement{{Key: portKey(port), Val: val}}); err != nil {
			return fmt.Errorf("nftables: %w", err)
		}
	}
	if err := k.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: route endpoint %d: %w", port, err)
	}
	if to == 0 {
		delete(k.routes, port)
	} else {
		k.routes[port] = to
	}
	return nil
}

// setHeld adds port to the held set, or takes it out.
func (k *kernelPath) setHeld(port int, held bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	el := []nftables.SetElement{{Key: portKey(port)}}
	var err error
	if held {
		err = k.conn.SetAddElements(k.held, el)
	} else {
		err = k.conn.SetDeleteElements(k.held, el)
	}
	if err == nil {
		err = k.conn.Flush()
	}
	if err != nil {
		return fmt.Errorf("nftables: hold endpoint %d: %w", port, err)
	}
	return nil
}

// close deletes the table. Sessions already rewritten keep going: the kernel
// remembers each connection's rewrite.
func (k *kernelPath) close() error {
	if k.syn != nil {
		k.syn.close()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conn.DelTable(k.table)
	if err := k.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: delete table %s: %w", k.table.Name, err)
	}
	return nil
}

// destroySessions aborts every connection the kernel forwards from
// 127.0.0.1:port to a server, and returns how many it aborted. The client
// sees ECONNABORTED, and the server a reset. A client socket connected to
// the endpoint port is kernel-forwarded unless teal's listener holds its
// other end (accepted or still queued).
func destroySessions(port int) (int, error) {
	forwarded, err := kernelSessions(port)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, id := range forwarded {
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

// kernelSessions lists the client sockets of the sessions the kernel
// forwards from 127.0.0.1:port (or from every endpoint port, for port 0).
func kernelSessions(port int) ([]netlink.SocketID, error) {
	socks, err := netlink.SocketDiagTCP(unix.AF_INET)
	if err != nil {
		return nil, fmt.Errorf("list sockets: %w", err)
	}
	loopback := net.IPv4(127, 0, 0, 1)
	type pair struct{ endpoint, client uint16 }
	listened := make(map[pair]bool)
	for _, s := range socks {
		if (port == 0 || int(s.ID.SourcePort) == port) && s.ID.Source.Equal(loopback) {
			listened[pair{s.ID.SourcePort, s.ID.DestinationPort}] = true
		}
	}
	var out []netlink.SocketID
	for _, s := range socks {
		id := s.ID
		if (port != 0 && int(id.DestinationPort) != port) || !id.Destination.Equal(loopback) || listened[pair{id.DestinationPort, id.SourcePort}] {
			continue
		}
		switch s.State {
		case netlink.TCP_LISTEN, netlink.TCP_CLOSE, netlink.TCP_TIME_WAIT:
			continue
		case netlink.TCP_SYN_SENT:
			// An attempt not yet answered: held (synhold.go), not forwarded.
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

// countSessions counts the kernel-forwarded sessions by destination port.
// Sockets to ports that are not endpoints are counted too; the caller
// reads only its endpoints' ports.
func countSessions() (map[int]int, error) {
	ids, err := kernelSessions(0)
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, id := range ids {
		out[int(id.DestinationPort)]++
	}
	return out, nil
}
