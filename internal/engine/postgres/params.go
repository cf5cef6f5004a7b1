package postgres

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tealdb/teal/internal/engine"
)

// Which parameters a user may set in a DB parameter group (RDS's
// IsModifiable). A parameter is NOT modifiable when any rule below holds.
// The rules look at the shape of the name and at the category the server
// itself files the parameter under, so a parameter that a future major adds
// is judged without a change here:
//
//  1. It names a program, a library or a place in the file system: its name
//     ends in command, library, libraries, provider, file, filename, dir,
//     directory, directories or path. search_path, a list of schemas, is the
//     one exception.
//  2. Its category is one teal owns whole: File Locations, SSL, Where to Log
//     (teal reads the server's stderr), Shared Library Preloading, Archive
//     Recovery, Recovery Target, Developer Options, and Authentication except
//     the settings that only tune password hashing and the login timeout.
//  3. teal sets it to keep control of the server: where it listens and its
//     sockets, how a replica follows its source, hot standby (teal's admin
//     sessions on replicas need it), archiving (automated backups),
//     ALTER SYSTEM, and the switches that bypass the server's own checks on
//     catalogs and data pages.
var (
	deniedSuffixes = []string{"command", "library", "libraries", "provider",
		"file", "filename", "dir", "directory", "directories", "path"}
	suffixAllowed = map[string]bool{"search_path": true}

	deniedCategories = map[string]bool{
		"File Locations":                                         true,
		"Connections and Authentication / SSL":                   true,
		"Connections and Authentication / Authentication":        true,
		"Reporting and Logging / Where to Log":                   true,
		"Client Connection Defaults / Shared Library Preloading": true,
		"Write-Ahead Log / Archive Recovery":                     true,
		"Write-Ahead Log / Recovery Target":                      true,
		"Developer Options":                                      true,
	}
	// categoryAllowed are harmless settings in a denied category: they only
	// tune how passwords are hashed and how long a login may take.
	categoryAllowed = map[string]bool{
		"password_encryption": true, "scram_iterations": true,
		"authentication_timeout": true, "md5_password_warnings": true,
	}

	deniedPrefixes = []string{"unix_socket_", "ssl_", "bonjour", "recovery_target"}
	deniedNames    = map[string]bool{
		"listen_addresses": true, "port": true, "ssl": true,
		"primary_conninfo": true, "primary_slot_name": true, "hot_standby": true,
		"archive_mode": true, "allow_alter_system": true,
		"allow_system_table_mods": true, "ignore_system_indexes": true,
		"zero_damaged_pages": true, "ignore_checksum_failure": true,
		"ignore_invalid_pages": true, "allow_in_place_tablespaces": true,
		"data_sync_retry": true, "krb_server_keyfile": true, "db_user_namespace": true,
	}
)

// modifiable applies the rules above to a parameter and its category.
func modifiable(name, category string) bool {
	n := strings.ToLower(name)
	if deniedNames[n] {
		return false
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(n, p) {
			return false
		}
	}
	if !suffixAllowed[n] {
		for _, s := range deniedSuffixes {
			if strings.HasSuffix(n, s) {
				return false
			}
		}
	}
	if deniedCategories[category] && !categoryAllowed[n] {
		return false
	}
	return true
}

// Parameters implements engine.Engine from the build's own description of
// its settings (postgres --describe-config).
func (e *Engine) Parameters(b engine.Build) ([]engine.ParamInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.catalog[b.Version]; ok {
		return c, nil
	}
	out, err := exec.Command(filepath.Join(b.BinDir, "postgres"), "--describe-config").Output()
	if err != nil {
		return nil, fmt.Errorf("describe config of postgres %s: %w", b.Version, err)
	}
	params := append(parseDescribeConfig(string(out)), forceSSLParam)
	// Listings page by name, so the catalog is in the order of its names.
	slices.SortFunc(params, func(a, b engine.ParamInfo) int { return strings.Compare(a.Name, b.Name) })
	e.catalog[b.Version] = params
	return params, nil
}

// ForceSSL is RDS's parameter that makes every TCP client use TLS: teal's
// own, not the server's, so it goes to pg_hba.conf rather than into the
// server's configuration.
const ForceSSL = "rds.force_ssl"

var forceSSLParam = engine.ParamInfo{Name: ForceSSL, Type: engine.TypeBoolean, AllowedValues: []string{"0", "1"},
	Default: "0", Modifiable: true,
	Description: "Force SSL connections: a client connecting over TCP without TLS is refused."}

// parseDescribeConfig reads the tab-separated lines of postgres
// --describe-config: name, context, category, type, reset value, min, max,
// short and long description.
func parseDescribeConfig(out string) []engine.ParamInfo {
	var params []engine.ParamInfo
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 8 {
			continue
		}
		name, context, category, typ := f[0], f[1], f[2], f[3]
		if context == "internal" {
			continue // compile-time constants
		}
		p := engine.ParamInfo{
			Name:        name,
			Description: f[7],
			Static:      context == "postmaster",
			Modifiable:  modifiable(name, category),
			Default:     f[4],
			Min:         f[5],
			Max:         f[6],
		}
		switch typ {
		case "BOOLEAN":
			p.Type = engine.TypeBoolean
			p.AllowedValues = []string{"0", "1"}
			p.Default = map[string]string{"FALSE": "0", "TRUE": "1"}[f[4]]
		case "INTEGER":
			p.Type = engine.TypeInteger
		case "REAL":
			p.Type = engine.TypeFloat
		case "ENUM":
			p.Type = engine.TypeEnum
		default:
			p.Type = engine.TypeString
		}
		params = append(params, p)
	}
	return params
}

// confLine renders one setting of a PostgreSQL configuration file. Inside a
// quoted value the server's lexer takes a backslash as an escape and ” as a
// quote, and a line break ends the line whatever the quotes; so backslashes
// are doubled, quotes doubled, and control characters (which no setting
// needs) refused rather than written.
func confLine(name, value string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("parameter name %q cannot be written to a configuration file", name)
	}
	if err := writableValue(value); err != nil {
		return "", fmt.Errorf("value of %s: %w", name, err)
	}
	v := strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(value)
	return name + " = '" + v + "'\n", nil
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '.'):
		default:
			return false
		}
	}
	return true
}

func writableValue(v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("it is not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("it contains the control character %U", r)
		}
	}
	return nil
}
