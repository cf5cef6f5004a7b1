package mariadb

import "testing"

// MariaDB's own PASSWORD('password').
func TestPasswordVerifierKnownAnswer(t *testing.T) {
	got, err := (&Engine{}).PasswordVerifier("password")
	if err != nil {
		t.Fatal(err)
	}
	if want := "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	for _, bad := range []string{"", "password", "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1'", "*2470c0c06dee42fd1618bb99005adca2ec9d1e19"} {
		if _, err := hashLiteral(bad); err == nil {
			t.Errorf("hashLiteral(%q) accepted", bad)
		}
	}
}
