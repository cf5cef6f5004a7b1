package mariadb

import (
	"database/sql/driver"
	"errors"
	"net"

	"github.com/go-sql-driver/mysql"

	"github.com/tealdb/teal/internal/engine"
)

// MariaDB error numbers teal reads.
const (
	errConCount            = 1040 // too many connections
	errOutOfMemory         = 1041
	errDBAccessDenied      = 1044
	errAccessDenied        = 1045
	errNoDB                = 1046
	errBadDB               = 1049
	errBadField            = 1054
	errParse               = 1064
	errNoSuchTable         = 1146
	errTableAccessDenied   = 1142
	errUnknownSystemVar    = 1193
	errLockWaitTimeout     = 1205
	errLockDeadlock        = 1213
	errSpecificAccess      = 1227
	errWrongValueForVar    = 1231
	errWrongTypeForVar     = 1232
	errVariableIsReadonly  = 1238 // a static variable: it applies at the next start
	errOptionPreventsStmt  = 1290 // --read-only and the like
	errDiskFull            = 1021
	errReadOnlyTransaction = 1792
)

func init() { engine.RegisterKinds(kindOf) }

// kindOf reads a MariaDB error by its number, or a failed connection.
func kindOf(err error) engine.Kind {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errAccessDenied, errDBAccessDenied, errTableAccessDenied, errSpecificAccess:
			return engine.KindDenied
		case errOptionPreventsStmt, errReadOnlyTransaction:
			return engine.KindReadOnly
		case errLockWaitTimeout, errLockDeadlock:
			return engine.KindConflict
		case errConCount, errOutOfMemory, errDiskFull:
			return engine.KindResources
		case errNoDB, errBadDB, errBadField, errParse, errNoSuchTable, errUnknownSystemVar,
			errWrongValueForVar, errWrongTypeForVar, errVariableIsReadonly:
			return engine.KindInvalid
		}
		return engine.KindUnknown
	}
	var ne *net.OpError
	if errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) {
		return engine.KindUnavailable
	}
	return engine.KindUnknown
}
