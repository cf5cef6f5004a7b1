package mariadb

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestModifiableRule(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"init_file", false},
		{"skip_grant_tables", false},
		{"skip_networking", false},
		{"bind_address", false},
		{"port", false},
		{"extra_port", false},
		{"socket", false},
		{"datadir", false},
		{"plugin_dir", false},
		{"plugin_load_add", false},
		{"plugin_maturity", false},
		{"secure_file_priv", false},
		{"log_bin", false},
		{"log_bin_index", false},
		{"log_bin_basename", false},
		{"general_log_file", false},
		{"slow_query_log_file", false},
		{"pid_file", false},
		{"tmpdir", false},
		{"innodb_data_home_dir", false},
		{"innodb_undo_directory", false},
		{"aria_log_dir_path", false},
		{"init_slave", false},
		{"wsrep_provider", false},
		{"wsrep_notify_cmd", false},
		{"wsrep_OSU_method", false},
		{"ssl_key", false},
		{"tls_version", false},
		{"unix_socket", false},
		{"allow_suspicious_udfs", false},
		{"read_only", false},
		{"feedback_url", false},
		{"some_future_file", false},
		{"some_future_library", false},
		// Ordinary variables stay modifiable, as on RDS.
		{"init_connect", true},
		{"local_infile", true},
		{"max_connections", true},
		{"innodb_buffer_pool_size", true},
		{"binlog_format", true},
		{"log_slave_updates", true},
		{"gtid_strict_mode", true},
		{"sync_binlog", true},
		{"long_query_time", true},
		{"slow_query_log", true},
		{"general_log", true},
		{"innodb_adaptive_hash_index", true},
		{"log_bin_trust_function_creators", true},
		{"event_scheduler", true},
		{"sql_mode", true},
	} {
		if got := modifiable(c.name); got != c.want {
			t.Errorf("modifiable(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func installed(t *testing.T) *Engine {
	t.Helper()
	e := New(DefaultDirs())
	if len(e.Builds()) == 0 {
		t.Skip("no MariaDB build installed; run scripts/install-engines.sh")
	}
	return e
}

// The installed build's own list of variables keeps the dangerous ones out
// of users' reach, and teal's defaults in it.
func TestCatalogOfInstalledBuild(t *testing.T) {
	e := installed(t)
	b := e.Builds()[0]
	catalog, err := e.Parameters(b)
	if err != nil {
		t.Fatal(err)
	}
	mod := map[string]bool{}
	for _, p := range catalog {
		mod[p.Name] = p.Modifiable
	}
	for _, name := range []string{"init_file", "skip_grant_tables", "skip_networking", "bind_address",
		"port", "socket", "datadir", "plugin_dir", "secure_file_priv", "general_log_file",
		"slow_query_log_file", "pid_file", "tmpdir", "init_slave", "wsrep_provider", "log_error"} {
		if mod[name] {
			t.Errorf("mariadb %s: %s is modifiable", b.Version, name)
		}
	}
	for name := range e.Defaults(b) {
		if name != "log_bin" && !mod[name] {
			t.Errorf("mariadb %s: default %s is not a modifiable variable, so WriteConfig would drop it", b.Version, name)
		}
	}
}

func TestOptionLine(t *testing.T) {
	for _, c := range []struct {
		value, want string
	}{
		{"ROW", "x = ROW"},
		{"134217728", "x = 134217728"},
		{"STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION", "x = STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"},
		{"SET NAMES utf8mb4", `x = "SET NAMES utf8mb4"`},
		{`a # b`, `x = "a # b"`},
		{`x\`, `x = "x\\"`},
		{`say "hi"`, `x = "say \"hi\""`},
		{`it's`, `x = "it's"`},
		{"", `x = ""`},
	} {
		got, err := optionLine("x", c.value)
		if err != nil {
			t.Errorf("optionLine(%q): %v", c.value, err)
			continue
		}
		if got != c.want+"\n" {
			t.Errorf("optionLine(%q) = %q, want %q", c.value, got, c.want+"\n")
		}
		if back := optionValue(strings.TrimSuffix(strings.SplitN(got, " = ", 2)[1], "\n")); back != c.value {
			t.Errorf("optionValue of %q = %q, want %q", got, back, c.value)
		}
	}
	for _, v := range []string{"1\ninit_file = /tmp/x", "a\rb", "a\x00b", "a\tb", "a\xffb"} {
		if line, err := optionLine("x", v); err == nil {
			t.Errorf("optionLine(%q) = %q, want an error", v, line)
		}
	}
	for _, n := range []string{"", "a b", "a=b", "x\ninit_file", "!include"} {
		if _, err := optionLine(n, "v"); err == nil {
			t.Errorf("optionLine with name %q: want an error", n)
		}
	}
}

// MariaDB's own option-file reader gives back exactly the value written.
func TestOptionLineReadBackByServer(t *testing.T) {
	installed(t)
	reader, err := exec.LookPath("my_print_defaults")
	if err != nil {
		t.Skip("my_print_defaults not installed")
	}
	values := []string{`x\`, `say "hi"`, `it's`, `a # not a comment`, `\n stays`, ` padded `, `\\`, `ünïcode`, `a=b`}
	var conf strings.Builder
	conf.WriteString("[mariadbd]\n")
	for i, v := range values {
		line, err := optionLine("v"+strconv.Itoa(i), v)
		if err != nil {
			t.Fatal(err)
		}
		conf.WriteString(line)
	}
	path := filepath.Join(t.TempDir(), "my.cnf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(reader, "--defaults-file="+path, "mariadbd").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(values) {
		t.Fatalf("read %d options back, want %d: %q", len(got), len(values), got)
	}
	for i, v := range values {
		if want := "--v" + strconv.Itoa(i) + "=" + v; got[i] != want {
			t.Errorf("read %q back as %q", want, got[i])
		}
	}
}
