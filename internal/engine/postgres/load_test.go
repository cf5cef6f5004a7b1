package postgres

import (
	"testing"

	"github.com/tealdb/teal/internal/engine"
)

// Green's load settings are written to its configuration like a parameter
// group's, which takes only settable parameters: each must be one, on
// every installed version, or the load would silently run without it.
func TestLoadSettingsAreSettable(t *testing.T) {
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	if len(e.Builds()) == 0 {
		t.Skip("no PostgreSQL installed")
	}
	for _, b := range e.Builds() {
		catalog, err := e.Parameters(b)
		if err != nil {
			t.Fatalf("%s: %v", b.Version, err)
		}
		settable := engine.Settable(catalog)
		for _, set := range []map[string]string{e.LoadSettings(b), e.CloneSettings(b), e.CopyStartSettings(b)} {
			for name := range set {
				if !settable[name] {
					t.Errorf("PostgreSQL %s: load setting %s is not a settable parameter", b.Version, name)
				}
			}
		}
	}
}
