package rds

import (
	"net/http"

	apifault "github.com/tealdb/teal/internal/fault"
)

// Fault is an error the RDS API returns to the caller (see package fault).
// Every operation of this package returns its refusals as a *Fault; any
// other error is an internal failure.
type Fault = apifault.Fault

func fault(code string, status int, format string, args ...any) *Fault {
	return apifault.New(code, status, format, args...)
}

// Sentinels for errors.Is; their messages are not used.
var (
	ErrInvalidParameterValue        = &Fault{Code: "InvalidParameterValue"}
	ErrInvalidParameterCombination  = &Fault{Code: "InvalidParameterCombination"}
	ErrMissingParameter             = &Fault{Code: "MissingParameter"}
	ErrDBInstanceNotFound           = &Fault{Code: "DBInstanceNotFound"}
	ErrDBInstanceAlreadyExists      = &Fault{Code: "DBInstanceAlreadyExists"}
	ErrInvalidDBInstanceState       = &Fault{Code: "InvalidDBInstanceState"}
	ErrDBParameterGroupNotFound     = &Fault{Code: "DBParameterGroupNotFound"}
	ErrDBParameterGroupExists       = &Fault{Code: "DBParameterGroupAlreadyExists"}
	ErrInvalidDBParameterGroupState = &Fault{Code: "InvalidDBParameterGroupState"}
	ErrDBClusterNotFound            = &Fault{Code: "DBClusterNotFoundFault"}
	ErrStorageQuotaExceeded         = &Fault{Code: "StorageQuotaExceeded"}
)

func invalidValue(format string, args ...any) *Fault {
	return fault("InvalidParameterValue", http.StatusBadRequest, format, args...)
}

func invalidCombination(format string, args ...any) *Fault {
	return fault("InvalidParameterCombination", http.StatusBadRequest, format, args...)
}

func missing(name string) *Fault {
	return fault("MissingParameter", http.StatusBadRequest,
		"The request must contain the parameter %s", name)
}

func instanceNotFound(id string) *Fault {
	return fault("DBInstanceNotFound", http.StatusNotFound, "DBInstance %s not found.", id)
}

func instanceExists(id string) *Fault {
	return fault("DBInstanceAlreadyExists", http.StatusBadRequest, "DB instance already exists")
}

func invalidInstanceState(id, status, want string) *Fault {
	return fault("InvalidDBInstanceState", http.StatusBadRequest,
		"DB instance %s is in state %s; it must be %s.", id, status, want)
}

func groupNotFound(name string) *Fault {
	return fault("DBParameterGroupNotFound", http.StatusNotFound, "DBParameterGroup not found: %s", name)
}

func groupExists(name string) *Fault {
	return fault("DBParameterGroupAlreadyExists", http.StatusBadRequest,
		"Parameter group %s already exists", name)
}

func invalidGroupState(format string, args ...any) *Fault {
	return fault("InvalidDBParameterGroupState", http.StatusBadRequest, format, args...)
}

func clusterNotFound(id string) *Fault {
	return fault("DBClusterNotFoundFault", http.StatusNotFound, "DBCluster %s not found.", id)
}

func clusterEndpointNotFound(id string) *Fault {
	return fault("DBClusterEndpointNotFoundFault", http.StatusBadRequest, "DBClusterEndpoint %s not found.", id)
}

func snapshotNotFound(id string) *Fault {
	return fault("DBSnapshotNotFound", http.StatusNotFound, "DBSnapshot %s not found.", id)
}

func snapshotExists(id string) *Fault {
	return fault("DBSnapshotAlreadyExists", http.StatusBadRequest, "Cannot create the snapshot because a snapshot with the identifier %s already exists.", id)
}

func invalidSnapshotState(format string, args ...any) *Fault {
	return fault("InvalidDBSnapshotState", http.StatusBadRequest, format, args...)
}

func invalidRestore(format string, args ...any) *Fault {
	return fault("InvalidRestoreFault", http.StatusBadRequest, format, args...)
}

func backupNotFound(ref string) *Fault {
	return fault("DBInstanceAutomatedBackupNotFound", http.StatusNotFound, "No automated backup found for %s.", ref)
}

func subnetGroupNotFound(name string) *Fault {
	return fault("DBSubnetGroupNotFoundFault", http.StatusNotFound, "DB subnet group %s not found.", name)
}

func subnetGroupExists(name string) *Fault {
	return fault("DBSubnetGroupAlreadyExists", http.StatusBadRequest, "The DB subnet group %s already exists.", name)
}

func invalidSubnetGroupState(format string, args ...any) *Fault {
	return fault("InvalidDBSubnetGroupStateFault", http.StatusBadRequest, format, args...)
}

func invalidSubnet(format string, args ...any) *Fault {
	return fault("InvalidSubnet", http.StatusBadRequest, format, args...)
}

func securityGroupNotFound(name string) *Fault {
	return fault("DBSecurityGroupNotFound", http.StatusNotFound, "DBSecurityGroup %s not found.", name)
}

func securityGroupExists(name string) *Fault {
	return fault("DBSecurityGroupAlreadyExists", http.StatusBadRequest, "A DB security group named %s already exists.", name)
}

func invalidSecurityGroupState(format string, args ...any) *Fault {
	return fault("InvalidDBSecurityGroupState", http.StatusBadRequest, format, args...)
}

func optionGroupNotFound(name string) *Fault {
	return fault("OptionGroupNotFoundFault", http.StatusNotFound, "Specified OptionGroupName: %s not found.", name)
}

func optionGroupExists(name string) *Fault {
	return fault("OptionGroupAlreadyExistsFault", http.StatusBadRequest, "Option group %s already exists.", name)
}

func invalidOptionGroupState(format string, args ...any) *Fault {
	return fault("InvalidOptionGroupStateFault", http.StatusBadRequest, format, args...)
}
