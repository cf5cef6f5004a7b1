package postgres

import (
	"errors"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tealdb/teal/internal/engine"
)

func init() { engine.RegisterKinds(kindOf) }

// kindOf reads a PostgreSQL error by its SQLSTATE class.
func kindOf(err error) engine.Kind {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pgerrcode.IsInvalidAuthorizationSpecification(pe.Code) {
			return engine.KindDenied
		}
		return engine.KindUnavailable
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return engine.KindUnknown
	}
	c := pe.Code
	switch {
	case c == pgerrcode.ReadOnlySQLTransaction:
		return engine.KindReadOnly
	case c == pgerrcode.InsufficientPrivilege, pgerrcode.IsInvalidAuthorizationSpecification(c),
		pgerrcode.IsInvalidGrantor(c), pgerrcode.IsInvalidRoleSpecification(c):
		return engine.KindDenied
	case pgerrcode.IsConnectionException(c), pgerrcode.IsOperatorIntervention(c):
		return engine.KindUnavailable
	case pgerrcode.IsTransactionRollback(c), pgerrcode.IsObjectNotInPrerequisiteState(c),
		c == pgerrcode.LockNotAvailable:
		return engine.KindConflict
	case pgerrcode.IsInsufficientResources(c), pgerrcode.IsProgramLimitExceeded(c):
		return engine.KindResources
	case pgerrcode.IsSyntaxErrororAccessRuleViolation(c), pgerrcode.IsDataException(c),
		pgerrcode.IsIntegrityConstraintViolation(c), pgerrcode.IsFeatureNotSupported(c),
		pgerrcode.IsInvalidCatalogName(c), pgerrcode.IsInvalidSchemaName(c):
		return engine.KindInvalid
	}
	return engine.KindUnknown
}
