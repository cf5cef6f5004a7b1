package mariadb

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// PasswordVerifier implements engine.Engine: the mysql_native_password hash
// MariaDB stores. Users are created and changed with IDENTIFIED BY PASSWORD
// and this hash, so the password itself never reaches the server, its binary
// log (which replicas read) or teal's store.
func (e *Engine) PasswordVerifier(password string) (string, error) {
	first := sha1.Sum([]byte(password))
	second := sha1.Sum(first[:])
	return "*" + strings.ToUpper(hex.EncodeToString(second[:])), nil
}

var nativeHashRE = regexp.MustCompile(`^\*[0-9A-F]{40}$`)

// hashLiteral is the SQL literal of a native password hash, refusing
// anything else: a hash has no character that can end a literal.
func hashLiteral(h string) (string, error) {
	if !nativeHashRE.MatchString(h) {
		return "", fmt.Errorf("not a mysql_native_password hash")
	}
	return "'" + h + "'", nil
}
