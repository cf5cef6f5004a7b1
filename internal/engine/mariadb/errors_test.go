package mariadb

import (
	"fmt"
	"net"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tealdb/teal/internal/engine"
)

func TestKindOfErrorNumber(t *testing.T) {
	for _, c := range []struct {
		err  error
		want engine.Kind
	}{
		{&mysql.MySQLError{Number: errAccessDenied}, engine.KindDenied},
		{&mysql.MySQLError{Number: errOptionPreventsStmt}, engine.KindReadOnly},
		{&mysql.MySQLError{Number: errLockDeadlock}, engine.KindConflict},
		{&mysql.MySQLError{Number: errConCount}, engine.KindResources},
		{&mysql.MySQLError{Number: errVariableIsReadonly}, engine.KindInvalid},
		{&mysql.MySQLError{Number: errParse}, engine.KindInvalid},
		{&mysql.MySQLError{Number: 1}, engine.KindUnknown},
		{&net.OpError{Op: "dial", Net: "unix", Err: fmt.Errorf("connection refused")}, engine.KindUnavailable},
		{mysql.ErrInvalidConn, engine.KindUnavailable},
		{fmt.Errorf("something else"), engine.KindUnknown},
	} {
		if got := engine.KindOf(fmt.Errorf("wrapped: %w", c.err)); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}
