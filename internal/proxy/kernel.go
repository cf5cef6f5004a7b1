package proxy

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
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
//   - An endpoint with several targets has no rule: teal's listener takes
//     every new connection and spreads them over the targets itself
//     (endpoint.go). Sessions the rule forwarded before, to a target that
//     stays, keep going.
//   - A session that went through the rule is never seen by teal. A
//     switchover ends such sessions at the server, between transactions (see
//     the engines' DrainSessions); a change of targets that removes the
//     server they go to ends them with SOCK_DESTROY, so the proxy still
//     fails closed.
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
	// hold are the chains that queue held attempts: on the output hook
	// (clients on this host), and on prerouting too when the endpoints
	// listen on an address other hosts reach.
	hold []*nftables.Chain
	// addr is the endpoints' address; remote: it is not loopback, so
	// connections arrive from other hosts too. restore puts the
	// interface's route_localnet back as it was.
	addr    net.IP
	remote  bool
	restore func() error
	// syn holds connection attempts in the kernel during a pause; nil
	// where that cannot work (synhold.go), and then teal's listener holds
	// them.
	syn    *synHold
	synErr error
	// routes is what the endpoints map holds: endpoint port -> server port;
	// last keeps, for each endpoint port, the server port it was last
	// routed to, also while it is not (paused), to count its sessions.
	routes map[int]int
	last   map[int]int
}

// tableSeq tells apart the Managers of one process (tests run several).
var tableSeq atomic.Uint32

// addSets orders the Managers' calls of nftables' AddSet.
var addSets sync.Mutex

const tablePrefix = "teal_"

var tableName = regexp.MustCompile(`^` + tablePrefix + `(\d+)_(\d+)$`)

// toEndpoint are the expressions that match a TCP packet to the endpoints'
// address and leave its destination port in register 1.
func (k *kernelPath) toEndpoint() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}, // ip daddr
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: k.addr.To4()},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}, // tcp dport
	}
}

// openKernelPath creates this Manager's nftables table, after removing those
// of processes that no longer run, for endpoints on addr.
//
// Connections from this host are rewritten on the output hook. When addr
// is reached from other hosts, their connections are rewritten on
// prerouting, to the server on 127.0.0.1, which the kernel allows for
// packets from outside only where route_localnet is on: teal turns it on
// for addr's interface, and the table drops whatever else arrives there
// for 127.0.0.0/8, so only the endpoints' rewrite reaches the servers.
// The servers see each client's own address.
func openKernelPath(addr net.IP) (*kernelPath, error) {
	if addr.To4() == nil {
		return nil, fmt.Errorf("kernel path: endpoint address %s is not IPv4", addr)
	}
	remote := !addr.IsLoopback()
	k, err := newKernelPath(addr, remote)
	if err != nil {
		return nil, err
	}
	if remote {
		// Only once the table drops what must not reach 127.0.0.0/8.
		if k.restore, err = routeLocalnet(addr); err != nil {
			if cerr := k.close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			return nil, err
		}
	}
	return k, nil
}

func newKernelPath(addr net.IP, remote bool) (*kernelPath, error) {
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
	k := &kernelPath{conn: conn, routes: make(map[int]int), last: make(map[int]int), addr: addr.To4(), remote: remote}
	k.table = conn.CreateTable(&nftables.Table{Family: nftables.TableFamilyIPv4,
		Name: fmt.Sprintf("%s%d_%d", tablePrefix, os.Getpid(), issued)})
	k.endpoints = &nftables.Set{Table: k.table, Name: "endpoints", IsMap: true, KeyType: nftables.TypeInetService,
		DataType: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)}
	k.held = &nftables.Set{Table: k.table, Name: "held", KeyType: nftables.TypeInetService}
	// The library numbers sets from a counter of its own, which is not
	// safe for concurrent use: the Managers of one process take turns.
	addSets.Lock()
	for _, set := range []*nftables.Set{k.endpoints, k.held} {
		if err := conn.AddSet(set, nil); err != nil {
			addSets.Unlock()
			return nil, fmt.Errorf("nftables: %w", err)
		}
	}
	addSets.Unlock()
	hooks := []*nftables.ChainHook{nftables.ChainHookOutput}
	if remote {
		hooks = append(hooks, nftables.ChainHookPrerouting)
	}
	for _, hook := range hooks {
		name := "output"
		if hook == nftables.ChainHookPrerouting {
			name = "prerouting"
		}
		hold := conn.AddChain(&nftables.Chain{Name: "hold_" + name, Table: k.table, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityRaw})
		k.hold = append(k.hold, hold)
		nat := conn.AddChain(&nftables.Chain{Name: name, Table: k.table, Type: nftables.ChainTypeNAT,
			Hooknum: hook, Priority: nftables.ChainPriorityNATDest})
		conn.AddRule(&nftables.Rule{Table: k.table, Chain: nat, Exprs: append(k.toEndpoint(),
			// The map's value is address . port, in registers 1 and 9.
			&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: k.endpoints.Name, SetID: k.endpoints.ID},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9, Specified: true},
		)})
		if hook == nftables.ChainHookPrerouting {
			// From outside, nothing reaches 127.0.0.0/8 but the rewrite
			// above, which comes after this chain, and nothing claims to
			// come from there.
			for _, offset := range []uint32{16, 12} { // first byte of ip daddr, of ip saddr
				conn.AddRule(&nftables.Rule{Table: k.table, Chain: hold, Exprs: []expr.Any{
					&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
					&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname("lo")},
					&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127}},
					&expr.Verdict{Kind: expr.VerdictDrop},
				}})
			}
		}
	}
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("nftables: create table %s: %w", k.table.Name, err)
	}
	k.syn, k.synErr = openSynHold(k)
	return k, nil
}

// ifname is an interface name as nftables compares it: 16 bytes, padded
// with zeros.
func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}

// routeLocalnet turns on route_localnet for the interface that holds addr,
// so that connections from other hosts rewritten to 127.0.0.1 are routed,
// and returns what puts it back as it was.
func routeLocalnet(addr net.IP) (restore func() error, err error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("kernel path: %w", err)
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(addr) {
				path := filepath.Join("/proc/sys/net/ipv4/conf", ifc.Name, "route_localnet")
				was, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("kernel path: %w", err)
				}
				if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
					return nil, fmt.Errorf("kernel path: %w", err)
				}
				return func() error {
					err := os.WriteFile(path, was, 0o644)
					if errors.Is(err, fs.ErrNotExist) {
						return nil // the interface is gone, and its setting with it
					}
					return err
				}, nil
			}
		}
	}
	return nil, fmt.Errorf("kernel path: no interface holds %s", addr)
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
		k.last[port] = to
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
	if k.restore != nil {
		if err := k.restore(); err != nil {
			return fmt.Errorf("kernel path: put route_localnet back: %w", err)
		}
	}
	return nil
}

// endSessions aborts every session the kernel forwards from endpoint
// port, and returns how many it aborted. A client on this host has its
// socket aborted (it sees ECONNABORTED, the server a reset); a client on
// another host has the server's side of its session aborted (the client
// sees a reset). A client socket connected to the endpoint is
// kernel-forwarded unless teal's listener holds its other end (accepted
// or still queued).
func (k *kernelPath) endSessions(port int, backend string) (int, error) {
	// Remote sessions are found by their server's port: without a
	// backend there are none to end (never every server's).
	server := -1
	if _, p, err := net.SplitHostPort(backend); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 {
			server = n
		}
	}
	local, remote, err := k.sessionSockets(port, server)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	destroy := func(id netlink.SocketID) {
		l := &net.TCPAddr{IP: id.Source, Port: int(id.SourcePort)}
		r := &net.TCPAddr{IP: id.Destination, Port: int(id.DestinationPort)}
		if err := netlink.SocketDestroy(l, r); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
			return
		}
		n++
	}
	for _, id := range local {
		destroy(id)
	}
	for _, id := range remote {
		destroy(id)
	}
	return n, errors.Join(errs...)
}

// sessions implements router: the open kernel-forwarded sessions of every
// endpoint, by endpoint port.
func (k *kernelPath) sessions() (map[int]int, error) {
	local, remote, err := k.sessionSockets(0, 0)
	if err != nil {
		return nil, err
	}
	out := map[int]int{}
	for _, id := range local {
		out[int(id.DestinationPort)]++
	}
	k.mu.Lock()
	endpointOf := map[int]int{}
	for ep, server := range k.last {
		endpointOf[server] = ep
	}
	k.mu.Unlock()
	for _, id := range remote {
		if ep, ok := endpointOf[int(id.SourcePort)]; ok {
			out[ep]++
		}
	}
	return out, nil
}

// sessionSockets finds the sessions the kernel forwards from endpoint port
// (every endpoint, for 0): the client sockets of clients on this host, and
// the server sockets of clients on other hosts, on server port (every
// server an endpoint was routed to, for 0; none, for -1).
func (k *kernelPath) sessionSockets(port, server int) (local, remote []netlink.SocketID, err error) {
	socks, err := netlink.SocketDiagTCP(unix.AF_INET)
	if err != nil {
		return nil, nil, fmt.Errorf("list sockets: %w", err)
	}
	type end struct {
		ip   string
		port uint16
	}
	type pair struct{ from, to end }
	mine := map[end]bool{}   // every socket's own end on this host
	conns := map[pair]bool{} // every socket, from its own end to its peer
	for _, s := range socks {
		from, to := end{s.ID.Source.String(), s.ID.SourcePort}, end{s.ID.Destination.String(), s.ID.DestinationPort}
		mine[from] = true
		conns[pair{from, to}] = true
	}
	open := func(s *netlink.Socket) bool {
		switch s.State {
		case netlink.TCP_LISTEN, netlink.TCP_CLOSE, netlink.TCP_TIME_WAIT, netlink.TCP_SYN_SENT:
			// A SYN_SENT attempt is not yet answered: held (synhold.go),
			// not forwarded.
			return false
		}
		return true
	}
	for _, s := range socks {
		id := s.ID
		if !open(s) || !id.Destination.Equal(k.addr) || (port != 0 && int(id.DestinationPort) != port) {
			continue
		}
		// teal's listener holds the other end: teal forwards it, not the
		// kernel.
		if conns[pair{end{id.Destination.String(), id.DestinationPort}, end{id.Source.String(), id.SourcePort}}] {
			continue
		}
		local = append(local, id)
	}
	if !k.remote || server < 0 {
		return local, nil, nil
	}
	servers := map[uint16]bool{}
	if server != 0 {
		servers[uint16(server)] = true
	} else {
		k.mu.Lock()
		for _, s := range k.last {
			servers[uint16(s)] = true
		}
		k.mu.Unlock()
	}
	loopback := net.IPv4(127, 0, 0, 1)
	for _, s := range socks {
		id := s.ID
		if !open(s) || !id.Source.Equal(loopback) || !servers[id.SourcePort] {
			continue
		}
		// The peer is on another host: no socket here has its end.
		if !mine[end{id.Destination.String(), id.DestinationPort}] {
			remote = append(remote, id)
		}
	}
	return local, remote, nil
}
