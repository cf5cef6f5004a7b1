package postgres

import (
	"encoding/base64"
	"testing"
)

// The verifier of RFC 7677's example (user "user", password "pencil", salt
// W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations), whose stored and server keys
// are derived from the SaltedPassword the RFC's exchange implies.
func TestScramVerifierKnownAnswer(t *testing.T) {
	salt, err := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	if err != nil {
		t.Fatal(err)
	}
	got, err := scramVerifier("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	want := "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
	if got != want {
		t.Fatalf("verifier\n got %s\nwant %s", got, want)
	}
}

func TestVerifierLiteralRefusesAnythingElse(t *testing.T) {
	e := &Engine{}
	v, err := e.PasswordVerifier(`x\'SUPERUSER--`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifierLiteral(v); err != nil {
		t.Fatalf("own verifier refused: %v", err)
	}
	for _, bad := range []string{"", "secret", `SCRAM-SHA-256$4096:a\'$b:c`, "SCRAM-SHA-256$4096:a$b:c' OR '1"} {
		if _, err := verifierLiteral(bad); err == nil {
			t.Errorf("verifierLiteral(%q) accepted", bad)
		}
	}
}
