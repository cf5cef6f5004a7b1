package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/tealdb/teal/internal/bluegreen"
	"github.com/tealdb/teal/internal/rds"
)

// caBundle downloads teal's CA certificate as a client would, and writes
// it where libpq-style clients read it from.
func caBundle(t *testing.T, url string) (string, []byte) {
	t.Helper()
	resp, err := http.Get(url + "/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pem, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ca.pem: %s %v", resp.Status, err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, pem
}

// verifiedSession connects through an endpoint with sslmode=verify-full
// against teal's CA and says which server answered.
func verifiedSession(t *testing.T, port int, ca string) (server string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=app sslmode=verify-full sslrootcert=%s",
		port, masterUser, masterPass, ca))
	if err != nil {
		t.Fatalf("verify-full through port %d: %v", port, err)
	}
	defer c.Close(context.Background())
	var on bool
	if err := c.QueryRow(ctx, "SELECT ssl, current_setting('data_directory') FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&on, &server); err != nil {
		t.Fatal(err)
	}
	if !on {
		t.Fatal("the session is not encrypted")
	}
	return server
}

// plainRefused says whether a plaintext session through the endpoint is
// refused.
func plainRefused(t *testing.T, port int) bool {
	t.Helper()
	c, err := tryConnect(context.Background(), port, "app")
	if err == nil {
		c.Close(context.Background())
		return false
	}
	if !strings.Contains(err.Error(), "no encryption") {
		t.Fatalf("a plaintext session failed, but not for want of TLS: %v", err)
	}
	return true
}

// TestTLSThroughEndpoints: PostgreSQL and MariaDB serve TLS with a
// certificate from teal's CA for the endpoints' name; a client verifying
// it fully (name included) connects through the endpoint, and after a
// switchover reaches green through the same endpoint with the same check
// passing. rds.force_ssl and require_secure_transport refuse plaintext
// clients, and replication still works under them.
func TestTLSThroughEndpoints(t *testing.T) {
	t.Parallel()
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15", "10.11")
	rig := startAPI(t, svc)
	ca, pem := caBundle(t, rig.url)
	ctx := ctxFor(t, 5*time.Minute)

	blue := createPostgres(t, svc, "tls", "15")
	before := verifiedSession(t, blue.Endpoint.Port, ca)
	if plainRefused(t, blue.Endpoint.Port) {
		t.Fatal("a plaintext session was refused without rds.force_ssl")
	}
	if _, err := svc.CreateDBParameterGroup(ctx, "tls15", "postgres15", "TLS only", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ModifyDBParameterGroup(ctx, "tls15", []rds.ParameterChange{
		{ParameterName: "rds.force_ssl", ParameterValue: "1", ApplyMethod: "immediate"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ModifyDBInstance(ctx, rds.ModifyDBInstanceInput{DBInstanceIdentifier: "tls", DBParameterGroupName: "tls15"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RebootDBInstance(ctx, "tls"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, "tls", rds.StatusAvailable, 2*time.Minute)
	if !plainRefused(t, blue.Endpoint.Port) {
		t.Fatal("rds.force_ssl = 1, yet a plaintext session was let in")
	}
	if again := verifiedSession(t, blue.Endpoint.Port, ca); again != before {
		t.Fatalf("the endpoint moved from %s to %s", before, again)
	}
	dep := createBlueGreen(t, svc, "tls-bg", blue.DBInstanceArn, "15", "")
	timeout := 60
	if _, err := svc.SwitchoverBlueGreenDeployment(ctx, dep.BlueGreenDeploymentIdentifier, &timeout); err != nil {
		t.Fatal(err)
	}
	if got := waitDeployment(t, svc, dep.BlueGreenDeploymentIdentifier, 2*time.Minute,
		bluegreen.StatusSwitchoverCompleted, bluegreen.StatusSwitchoverFailed); got.Status != bluegreen.StatusSwitchoverCompleted {
		t.Fatalf("switchover: %s %s", got.Status, got.StatusDetails)
	}
	after := verifiedSession(t, blue.Endpoint.Port, ca)
	if after == before {
		t.Fatalf("the endpoint still reaches %s after the switchover", before)
	}
	if !plainRefused(t, blue.Endpoint.Port) {
		t.Fatal("after the switchover, green lets a plaintext session in under rds.force_ssl")
	}

	if _, err := svc.CreateDBParameterGroup(ctx, "tlsm", "mariadb10.11", "TLS only", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ModifyDBParameterGroup(ctx, "tlsm", []rds.ParameterChange{
		{ParameterName: "require_secure_transport", ParameterValue: "1", ApplyMethod: "pending-reboot"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "tlsm", Engine: "mariadb",
		DBInstanceClass: "db.t3.micro", MasterUsername: "admin", MasterUserPassword: masterPass, DBName: "app",
		DBParameterGroupName: "tlsm"}); err != nil {
		t.Fatal(err)
	}
	m := waitStatus(t, svc, "tlsm", rds.StatusAvailable, 2*time.Minute)
	plain, err := sql.Open("mysql", mariaDSN(m.Endpoint.Port, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	// MariaDB refuses it as it refuses a wrong password (1045); the same
	// credentials over TLS get in below.
	if err := plain.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "1045") {
		t.Fatalf("require_secure_transport = 1, yet a plaintext session: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("the CA bundle holds no certificate")
	}
	if err := mysql.RegisterTLSConfig("teal-ca", &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", mariaDSN(m.Endpoint.Port, "app")+"&tls=teal-ca")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		t.Fatalf("MariaDB with TLS verified against teal's CA: %v", err)
	}
	if cipher == "" {
		t.Fatal("the MariaDB session is not encrypted")
	}
	var required int
	if err := db.QueryRowContext(ctx, "SELECT @@require_secure_transport").Scan(&required); err != nil || required != 1 {
		t.Fatalf("require_secure_transport is %d (%v)", required, err)
	}
	// A read replica follows its source over TLS, as the source demands.
	if _, err := svc.CreateDBInstanceReadReplica(ctx, rds.CreateReadReplicaInput{DBInstanceIdentifier: "tlsm-r",
		SourceDBInstanceIdentifier: "tlsm"}); err != nil {
		t.Fatal(err)
	}
	r := waitStatus(t, svc, "tlsm-r", rds.StatusAvailable, 2*time.Minute)
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	rdb, err := sql.Open("mysql", mariaDSN(r.Endpoint.Port, "app")+"&tls=teal-ca")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	eventually(t, time.Minute, "the replica has the row", func() error {
		var id int
		return rdb.QueryRowContext(ctx, "SELECT id FROM t").Scan(&id)
	})
}
