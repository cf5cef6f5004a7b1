package mariadb

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tealdb/teal/internal/engine"
)

// managed are the settings WriteConfig writes for teal's own control of the
// server, before the group's values; Reload does not set them again.
var managed = map[string]bool{
	"datadir": true, "socket": true, "port": true, "bind_address": true, "pid_file": true,
	"log_error": true, "server_id": true, "basedir": true, "plugin_dir": true, "tmpdir": true,
	"user": true, "skip_networking": true, "secure_file_priv": true, "log_bin": true,
}

// Which variables a user may set in a DB parameter group (RDS's
// IsModifiable). A variable is NOT modifiable when any rule below holds; the
// rules look at the shape of the name, so a variable a later MariaDB adds is
// judged without a change here:
//
//  1. It names a program, a library or a place in the file system: its name
//     ends in _file, _filename, dir, _directory, path, _basename, _cmd,
//     _command, _library, _libraries or _priv (local_infile, a switch, does
//     not).
//  2. It belongs to a family teal owns whole: plugin_* (loading code),
//     wsrep_* (Galera: providers, SST scripts, notify commands), ssl*/tls_*,
//     debug*, skip_* (skip_grant_tables, skip_networking, ...), feedback*
//     (sends server data to a URL), and init_* (init_file runs SQL as root at
//     start, init_slave as the replication thread) except init_connect, which
//     runs as the connecting user, as on RDS.
//  3. teal sets it to keep control of the server, or it weakens the
//     server's own checks: where it listens and its socket, its identity in
//     replication, read_only (teal holds replicas and greens read-only),
//     authentication (unix_socket, secure_auth, old_passwords), user-defined
//     function loading, symbolic links, forced InnoDB recovery.
var (
	deniedSuffixes = []string{"_file", "_filename", "dir", "_directory", "path", "_basename",
		"_cmd", "_command", "_library", "_libraries", "_priv"}
	deniedPrefixes = []string{"plugin", "wsrep_", "ssl", "tls_", "debug", "skip_", "feedback", "init_"}
	prefixAllowed  = map[string]bool{"init_connect": true}
	deniedNames    = map[string]bool{
		"datadir": true, "basedir": true, "socket": true, "port": true, "extra_port": true,
		"bind_address": true, "proxy_protocol_networks": true, "user": true, "chroot": true,
		"log_error": true, "console": true, "gdb": true, "server_id": true, "log_bin": true,
		"log_bin_index": true, "relay_log": true, "relay_log_index": true, "log_tc": true,
		"read_only": true, "innodb_read_only": true, "unix_socket": true, "secure_auth": true,
		"old_passwords": true, "allow_suspicious_udfs": true, "symbolic_links": true,
		"innodb_force_recovery": true, "language": true,
	}
)

// modifiable applies the rules above.
func modifiable(name string) bool {
	n := strings.ToLower(name)
	if managed[n] || deniedNames[n] {
		return false
	}
	if !prefixAllowed[n] {
		for _, p := range deniedPrefixes {
			if strings.HasPrefix(n, p) {
				return false
			}
		}
	}
	for _, s := range deniedSuffixes {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	return true
}

var integerRE = regexp.MustCompile(`^-?[0-9]+$`)

// Parameters implements engine.Engine from the build's own list of
// variables (mariadbd --verbose --help). Which are dynamic, and their types,
// come from a running server once one is up (learn); until then every
// parameter counts as static, which asks for a reboot but is never wrong.
func (e *Engine) Parameters(b engine.Build) ([]engine.ParamInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.catalog[b.Version]; ok {
		return c, nil
	}
	out, err := exec.Command(filepath.Join(b.BinDir, "mariadbd"), "--no-defaults", "--verbose", "--help").Output()
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("list variables of mariadb %s: %w", b.Version, err)
	}
	params := parseHelp(string(out))
	e.catalog[b.Version] = params
	return params, nil
}

// parseHelp reads the table of variables and their defaults that ends the
// output of mariadbd --verbose --help.
func parseHelp(out string) []engine.ParamInfo {
	var params []engine.ParamInfo
	in := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "-----") {
			in = true
			continue
		}
		if !in {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			break
		}
		name := strings.ReplaceAll(f[0], "-", "_")
		value := ""
		if len(f) > 1 {
			value = strings.Join(f[1:], " ")
		}
		p := engine.ParamInfo{Name: name, Default: value, Static: true, Modifiable: modifiable(name), Type: engine.TypeString}
		switch {
		case value == "TRUE" || value == "FALSE":
			p.Type, p.AllowedValues = engine.TypeBoolean, []string{"0", "1"}
			p.Default = map[string]string{"TRUE": "1", "FALSE": "0"}[value]
		case integerRE.MatchString(value):
			p.Type = engine.TypeInteger
		}
		params = append(params, p)
	}
	sort.Slice(params, func(i, j int) bool { return params[i].Name < params[j].Name })
	return params
}

var (
	optionNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	bareOptionRE = regexp.MustCompile(`^[A-Za-z0-9_.,:/+@-]+$`)
)

// optionLine renders one setting of a MariaDB option file. The server's
// reader ends a value at # outside quotes, strips spaces around it, drops
// one pair of enclosing quotes and then reads \\, \" and a few other escapes
// in it. So a value of only plain characters is written as it is, and any
// other in double quotes with \ and " escaped; control characters, which no
// setting needs and a line break would end the line on, are refused.
func optionLine(name, value string) (string, error) {
	if !optionNameRE.MatchString(name) {
		return "", fmt.Errorf("variable name %q cannot be written to an option file", name)
	}
	if !utf8.ValidString(value) {
		return "", fmt.Errorf("value of %s: it is not valid UTF-8", name)
	}
	for _, r := range value {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("value of %s: it contains the control character %U", name, r)
		}
	}
	if !bareOptionRE.MatchString(value) {
		value = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
	}
	return name + " = " + value + "\n", nil
}

// optionValue reads back a value optionLine wrote.
func optionValue(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	var b strings.Builder
	s := v[1 : len(v)-1]
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
