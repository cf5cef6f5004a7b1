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

// TestTLSThroughEndpoints: PostgreSQL and MariaDB serve TLS with a
// certificate from teal's CA for the endpoints' name; a client verifying
// it fully (name included) connects through the endpoint, and after a
// switchover reaches green through the same endpoint with the same check
// passing.
func TestTLSThroughEndpoints(t *testing.T) {
	t.Parallel()
	svc := openService(t, dataDir(t))
	requireVersions(t, svc, "15", "10.11")
	rig := startAPI(t, svc)
	ca, pem := caBundle(t, rig.url)
	ctx := ctxFor(t, 5*time.Minute)

	blue := createPostgres(t, svc, "tls", "15")
	before := verifiedSession(t, blue.Endpoint.Port, ca)
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

	if _, err := svc.CreateDBInstance(ctx, rds.CreateDBInstanceInput{DBInstanceIdentifier: "tlsm", Engine: "mariadb",
		DBInstanceClass: "db.t3.micro", MasterUsername: "admin", MasterUserPassword: masterPass, DBName: "app"}); err != nil {
		t.Fatal(err)
	}
	m := waitStatus(t, svc, "tlsm", rds.StatusAvailable, 2*time.Minute)
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
}
