package postgres

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// dangerous are settings a parameter group must never reach: each runs a
// program, loads a library, names a file, weakens authentication or takes
// the server out of teal's control.
var dangerous = []string{
	"archive_command", "archive_library", "restore_command", "archive_cleanup_command",
	"recovery_end_command", "ssl_passphrase_command", "shared_preload_libraries",
	"session_preload_libraries", "local_preload_libraries", "dynamic_library_path",
	"jit_provider", "listen_addresses", "port", "unix_socket_directories",
	"unix_socket_permissions", "unix_socket_group", "data_directory", "config_file",
	"hba_file", "ident_file", "external_pid_file", "ssl", "ssl_cert_file", "ssl_key_file",
	"ssl_ca_file", "ssl_crl_dir", "krb_server_keyfile", "logging_collector",
	"log_destination", "log_directory", "log_filename", "primary_conninfo",
	"primary_slot_name", "hot_standby", "archive_mode", "allow_alter_system",
	"allow_system_table_mods", "ignore_system_indexes", "zero_damaged_pages",
	"recovery_target_time", "promote_trigger_file", "extension_destdir",
}

func TestModifiableRule(t *testing.T) {
	for _, c := range []struct {
		name, category string
		want           bool
	}{
		// Commands, libraries and paths, by the shape of the name alone:
		// also for parameters no PostgreSQL has yet.
		{"recovery_end_command", "Write-Ahead Log / Archive Recovery", false},
		{"some_future_command", "Resource Usage / Memory", false},
		{"some_future_library", "", false},
		{"oauth_validator_libraries", "Connections and Authentication / Authentication", false},
		{"dynamic_library_path", "Client Connection Defaults / Other Defaults", false},
		{"extension_control_path", "Client Connection Defaults / Other Defaults", false},
		{"some_future_file", "", false},
		{"some_future_directory", "", false},
		{"some_future_dir", "", false},
		{"jit_provider", "Client Connection Defaults / Shared Library Preloading", false},
		// By category.
		{"ssl_ciphers", "Connections and Authentication / SSL", false},
		{"some_future_tls_knob", "Connections and Authentication / SSL", false},
		{"db_user_namespace", "Connections and Authentication / Authentication", false},
		{"gss_accept_delegation", "Connections and Authentication / Authentication", false},
		{"log_rotation_age", "Reporting and Logging / Where to Log", false},
		{"trace_recovery_messages", "Developer Options", false},
		{"recovery_target_action", "Write-Ahead Log / Recovery Target", false},
		// Named.
		{"listen_addresses", "Connections and Authentication / Connection Settings", false},
		{"port", "Connections and Authentication / Connection Settings", false},
		{"allow_system_table_mods", "", false},
		{"zero_damaged_pages", "", false},
		{"hot_standby", "Replication / Standby Servers", false},
		// Ordinary settings stay modifiable.
		{"work_mem", "Resource Usage / Memory", true},
		{"shared_buffers", "Resource Usage / Memory", true},
		{"log_min_duration_statement", "Reporting and Logging / When to Log", true},
		{"log_line_prefix", "Reporting and Logging / What to Log", true},
		{"log_temp_files", "Reporting and Logging / What to Log", true},
		{"search_path", "Client Connection Defaults / Statement Behavior", true},
		{"wal_level", "Write-Ahead Log / Settings", true},
		{"max_connections", "Connections and Authentication / Connection Settings", true},
		{"password_encryption", "Connections and Authentication / Authentication", true},
		{"authentication_timeout", "Connections and Authentication / Authentication", true},
		{"session_replication_role", "Client Connection Defaults / Statement Behavior", true},
		{"default_transaction_read_only", "Client Connection Defaults / Statement Behavior", true},
	} {
		if got := modifiable(c.name, c.category); got != c.want {
			t.Errorf("modifiable(%s, %q) = %v, want %v", c.name, c.category, got, c.want)
		}
	}
}

// builds are the PostgreSQL builds installed where teal looks for them.
func builds(t *testing.T) *Engine {
	t.Helper()
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	if len(e.Builds()) == 0 {
		t.Skip("no PostgreSQL build installed; run scripts/install-engines.sh")
	}
	return e
}

// Every installed build's own catalog keeps the dangerous settings out of
// users' reach, and leaves the ordinary ones in it.
func TestCatalogOfInstalledBuilds(t *testing.T) {
	e := builds(t)
	for _, b := range e.Builds() {
		catalog, err := e.Parameters(b)
		if err != nil {
			t.Fatal(err)
		}
		mod := map[string]bool{}
		for _, p := range catalog {
			mod[p.Name] = p.Modifiable
		}
		for _, name := range dangerous {
			if mod[name] {
				t.Errorf("postgres %s: %s is modifiable", b.Version, name)
			}
		}
		for _, name := range []string{"work_mem", "log_min_duration_statement", "log_line_prefix",
			"search_path", "wal_level", "max_connections", "shared_buffers", "statement_timeout"} {
			if !mod[name] {
				t.Errorf("postgres %s: %s is not modifiable", b.Version, name)
			}
		}
		for name, ok := range mod {
			if ok && (strings.HasSuffix(name, "_command") || strings.HasSuffix(name, "_libraries") ||
				strings.HasSuffix(name, "_file") || strings.HasPrefix(name, "ssl")) {
				t.Errorf("postgres %s: %s is modifiable", b.Version, name)
			}
		}
	}
}

func TestConfLine(t *testing.T) {
	for _, c := range []struct {
		value, want string
	}{
		{`%m [%p] `, `x = '%m [%p] '`},
		{`x\`, `x = 'x\\'`},
		{`it's`, `x = 'it''s'`},
		{`x\'`, `x = 'x\\'''`},
		{`'; shared_preload_libraries = 'evil`, `x = '''; shared_preload_libraries = ''evil'`},
		{`"$user", public`, `x = '"$user", public'`},
		{``, `x = ''`},
		{`ünïcode`, `x = 'ünïcode'`},
	} {
		got, err := confLine("x", c.value)
		if err != nil {
			t.Errorf("confLine(%q): %v", c.value, err)
			continue
		}
		if got != c.want+"\n" {
			t.Errorf("confLine(%q) = %q, want %q", c.value, got, c.want+"\n")
		}
	}
	for _, v := range []string{"a\nshared_preload_libraries = 'x'", "a\rb", "a\x00b", "a\tb", "\x7f", "a\xffb"} {
		if line, err := confLine("x", v); err == nil {
			t.Errorf("confLine(%q) = %q, want an error", v, line)
		}
	}
	for _, n := range []string{"", "a b", "x = 'y'\nz", "1abc", "a-b"} {
		if _, err := confLine(n, "v"); err == nil {
			t.Errorf("confLine with name %q: want an error", n)
		}
	}
}

// The server's own reader gives back exactly the value that was written.
func TestConfLineReadBackByServer(t *testing.T) {
	e := builds(t)
	b := e.Builds()[0]
	// Not t.TempDir: the server runs as another user, who must reach it.
	dir, err := os.MkdirTemp("", "teal-conf-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	values := []string{`x\`, `x\'`, `it's`, `''\\''`, `a # not a comment`, `\n is not a line break`, `%m [%p] `, `ünïcode`}
	var conf strings.Builder
	for i, v := range values {
		// A custom (dotted) setting takes any string.
		line, err := confLine("teal_test.v"+strconv.Itoa(i), v)
		if err != nil {
			t.Fatal(err)
		}
		conf.WriteString(line)
	}
	if err := os.WriteFile(filepath.Join(dir, "postgresql.conf"), []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		cmd := exec.Command(filepath.Join(b.BinDir, "postgres"), "-D", dir, "-C", "teal_test.v"+strconv.Itoa(i))
		if os.Geteuid() == 0 {
			// postgres refuses to run as root.
			u, err := user.Lookup("nobody")
			if err != nil {
				t.Skip("running as root without a nobody user")
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("postgres -C for %q: %v: %s", v, err, stderr.String())
		}
		if got := strings.TrimSuffix(string(out), "\n"); got != v {
			t.Errorf("postgres %s read %q back as %q", b.Version, v, got)
		}
	}
}
