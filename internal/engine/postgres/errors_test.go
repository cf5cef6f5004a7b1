package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tealdb/teal/internal/engine"
)

func TestKindOfSQLState(t *testing.T) {
	for _, c := range []struct {
		code string
		want engine.Kind
	}{
		{"42501", engine.KindDenied},      // insufficient_privilege
		{"28P01", engine.KindDenied},      // invalid_password
		{"25006", engine.KindReadOnly},    // read_only_sql_transaction
		{"57P01", engine.KindUnavailable}, // admin_shutdown
		{"08006", engine.KindUnavailable}, // connection_failure
		{"40001", engine.KindConflict},    // serialization_failure
		{"55P03", engine.KindConflict},    // lock_not_available
		{"55006", engine.KindConflict},    // object_in_use
		{"53100", engine.KindResources},   // disk_full
		{"53300", engine.KindResources},   // too_many_connections
		{"42601", engine.KindInvalid},     // syntax_error
		{"42P01", engine.KindInvalid},     // undefined_table
		{"22023", engine.KindInvalid},     // invalid_parameter_value
		{"23505", engine.KindInvalid},     // unique_violation
		{"XX000", engine.KindUnknown},     // internal_error
	} {
		err := fmt.Errorf("apply to app: %w", &pgconn.PgError{Code: c.code, Message: "m"})
		if got := engine.KindOf(err); got != c.want {
			t.Errorf("SQLSTATE %s: %v, want %v", c.code, got, c.want)
		}
	}
	if got := engine.KindOf(fmt.Errorf("x: %w", context.Canceled)); got != engine.KindCanceled {
		t.Errorf("canceled: %v", got)
	}
	err := fmt.Errorf("start replication: %w", &pgconn.PgError{Code: "42501", Message: "permission denied for table t"})
	if got := engine.Explain(err); !strings.HasPrefix(got, "a database server refused teal's access: start replication: ") {
		t.Errorf("Explain: %q", got)
	}
	if got := engine.Explain(fmt.Errorf("plain")); got != "plain" {
		t.Errorf("Explain of an error of no kind: %q", got)
	}
}
