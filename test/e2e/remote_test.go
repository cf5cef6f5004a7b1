package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
	"github.com/tealdb/teal/internal/server"
)

// privateLink is a network namespace joined to this host by a veth pair:
// the host's end has hostIP, the namespace's nsIP, in a /30 of
// 10.231.0.0/16 that the test picks. The test removes both.
type privateLink struct {
	ns, host, hostIP, nsIP string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newPrivateLink(t *testing.T) privateLink {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a network namespace needs root")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1<<14))
	if err != nil {
		t.Fatal(err)
	}
	id := int(n.Int64())
	l := privateLink{ns: fmt.Sprintf("teal-e2e-%d", id),
		hostIP: fmt.Sprintf("10.231.%d.%d", id>>6, (id&63)*4+1), nsIP: fmt.Sprintf("10.231.%d.%d", id>>6, (id&63)*4+2)}
	host, peer := fmt.Sprintf("tl%dh", id), fmt.Sprintf("tl%dn", id)
	l.host = host
	ipCmd(t, "netns", "add", l.ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.ns).Run() })
	ipCmd(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	ipCmd(t, "link", "set", peer, "netns", l.ns)
	ipCmd(t, "addr", "add", l.hostIP+"/30", "dev", host)
	ipCmd(t, "link", "set", host, "up")
	ipCmd(t, "-n", l.ns, "addr", "add", l.nsIP+"/30", "dev", peer)
	ipCmd(t, "-n", l.ns, "link", "set", peer, "up")
	ipCmd(t, "-n", l.ns, "link", "set", "lo", "up")
	return l
}

// remotePsql runs one statement with psql inside the namespace, through
// the endpoint, verifying the server's certificate fully.
func (l privateLink) remotePsql(ctx context.Context, host string, port int, ca, sql string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.ns, "psql", "-qAtX", "-v", "ON_ERROR_STOP=1",
		fmt.Sprintf("host=%s port=%d dbname=app user=%s sslmode=verify-full sslrootcert=%s connect_timeout=10", host, port, masterUser, ca),
		"-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+masterPass)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// TestRemoteClients: with --endpoint-address on a private link, a client
// on the other side connects through the endpoint with sslmode=verify-full
// and writes; a switchover while it writes loses none of its acknowledged
// inserts, and it reconnects to green through the same endpoint with the
// same check passing. In both forwarding modes; in the kernel's, the
// server sees the client's own address.
func TestRemoteClients(t *testing.T) {
	for _, mode := range []string{rds.ForwardTeal, rds.ForwardKernel} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			link := newPrivateLink(t)
			dir := dataDir(t)
			svc, err := server.OpenService(context.Background(), server.Config{DataDir: dir, EnginesDir: server.DefaultEnginesDir(),
				Logger: testLogger(t), Forwarding: mode, EndpointAddress: link.hostIP})
			if err != nil {
				t.Fatalf("open service: %v", err)
			}
			t.Cleanup(func() { svc.Close() })
			requireVersions(t, svc, "15")
			ctx := ctxFor(t, 5*time.Minute)
			ca := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(ca, svc.CACertificate(), 0o644); err != nil {
				t.Fatal(err)
			}
			blue := createPostgres(t, svc, "far", "15")
			if blue.Endpoint.Address != link.hostIP {
				t.Fatalf("Endpoint.Address %s, want %s", blue.Endpoint.Address, link.hostIP)
			}
			port := blue.Endpoint.Port
			if _, err := link.remotePsql(ctx, link.hostIP, port, ca, "CREATE TABLE ledger (seq int PRIMARY KEY)"); err != nil {
				t.Fatalf("a remote client through the endpoint: %v", err)
			}
			seen, err := link.remotePsql(ctx, link.hostIP, port, ca, "SELECT host(inet_client_addr()) || ' ' || current_setting('data_directory')")
			if err != nil {
				t.Fatal(err)
			}
			addr, before, _ := strings.Cut(seen, " ")
			if want := map[string]string{rds.ForwardKernel: link.nsIP, rds.ForwardTeal: "127.0.0.1"}[mode]; addr != want {
				t.Errorf("the server sees the client at %s, want %s", addr, want)
			}

			// The remote writer: one verified connection per insert, each
			// acknowledged insert printed.
			stop := filepath.Join(t.TempDir(), "stop")
			script := fmt.Sprintf(`i=0; while [ ! -e %q ] && [ $i -lt 20000 ]; do i=$((i+1));
				psql -qAtX -v ON_ERROR_STOP=1 "host=%s port=%d dbname=app user=%s sslmode=verify-full sslrootcert=%s connect_timeout=10" \
					-c "INSERT INTO ledger VALUES ($i)" >/dev/null 2>&1 && echo $i; done`, stop, link.hostIP, port, masterUser, ca)
			wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			defer cancel()
			writer := exec.CommandContext(wctx, "ip", "netns", "exec", link.ns, "bash", "-c", script)
			writer.Env = append(os.Environ(), "PGPASSWORD="+masterPass)
			var acked bytes.Buffer
			writer.Stdout = &acked
			if err := writer.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- writer.Wait() }()
			stopWriter := func() {
				if err := os.WriteFile(stop, nil, 0o644); err != nil {
					t.Error(err)
				}
				if err := <-done; err != nil && wctx.Err() == nil {
					t.Errorf("remote writer: %v", err)
				}
			}

			time.Sleep(time.Second)
			dep := createBlueGreen(t, svc, "far-bg", blue.DBInstanceArn, "15", "")
			timeout := 60
			if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, &timeout); err != nil {
				t.Fatal(err)
			}
			got := waitDeployment(t, svc, dep.BlueGreenDeploymentIdentifier, 2*time.Minute,
				bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed)
			if got.Status != bluegreen.StatusSwitchoverCompleted {
				stopWriter()
				t.Fatalf("switchover %s: %s", got.Status, got.StatusDetails)
			}
			time.Sleep(time.Second) // the writer goes on against green
			stopWriter()

			var seqs []int
			sc := bufio.NewScanner(&acked)
			for sc.Scan() {
				n, err := strconv.Atoi(sc.Text())
				if err != nil {
					t.Fatalf("writer printed %q", sc.Text())
				}
				seqs = append(seqs, n)
			}
			if len(seqs) < 10 {
				t.Fatalf("the remote writer got only %d inserts acknowledged", len(seqs))
			}
			after, err := link.remotePsql(ctx, link.hostIP, port, ca, "SELECT current_setting('data_directory')")
			if err != nil {
				t.Fatalf("after the switchover, a verified remote session: %v", err)
			}
			if after == before {
				t.Fatalf("the endpoint still reaches blue (%s)", before)
			}
			// Every acknowledged insert is on the new production, read from
			// this host through the same endpoint.
			c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=app sslmode=verify-full sslrootcert=%s",
				link.hostIP, port, masterUser, masterPass, ca))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			for _, n := range seqs {
				var found bool
				if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM ledger WHERE seq = $1)", n).Scan(&found); err != nil {
					t.Fatal(err)
				}
				if !found {
					t.Errorf("acknowledged insert %d is missing after the switchover", n)
				}
			}
			t.Logf("%s: %d remote inserts acknowledged across the switchover, all found", mode, len(seqs))

			// route_localnet, which the kernel path turned on for the
			// link, is off again once teal stops.
			c.Close(context.Background())
			if err := svc.Close(); err != nil {
				t.Fatal(err)
			}
			v, err := os.ReadFile(filepath.Join("/proc/sys/net/ipv4/conf", link.host, "route_localnet"))
			if err != nil || strings.TrimSpace(string(v)) != "0" {
				t.Errorf("route_localnet of %s after teal stopped: %q %v", link.host, v, err)
			}
		})
	}
}
