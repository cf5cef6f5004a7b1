package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
)

// scramIterations is PostgreSQL's own default (scram_iterations).
const scramIterations = 4096

// PasswordVerifier implements engine.Engine: the SCRAM-SHA-256 verifier
// PostgreSQL stores in pg_authid.rolpassword. The server receives only the
// verifier, so the password itself never travels as SQL, never reaches a
// log or a catalog, and no server setting (standard_conforming_strings,
// password_encryption) can change what is stored.
func (e *Engine) PasswordVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	return scramVerifier(password, salt, scramIterations)
}

// scramVerifier follows RFC 5802 as PostgreSQL applies it. The password is
// used as it is: teal accepts only printable ASCII, which SASLprep leaves
// unchanged.
func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("salt password: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// verifierRE is the shape of a SCRAM verifier: digits, base64, '$' and ':'.
// Nothing in it can end or escape a SQL string literal, whatever
// standard_conforming_strings says.
var verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$`)

// verifierLiteral is the SQL literal of a verifier, refusing anything else.
func verifierLiteral(v string) (string, error) {
	if !verifierRE.MatchString(v) {
		return "", fmt.Errorf("not a SCRAM-SHA-256 verifier")
	}
	return "'" + v + "'", nil
}
