package rds

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// IAM roles associated with an instance (AddRoleToDBInstance,
// RemoveRoleFromDBInstance) are kept and shown as AssociatedRoles, as RDS
// shows them. Nothing here assumes them: teal's servers have no aws_s3 or
// aws_lambda extension to call AWS with.

// roleFeatures are the features of each engine that take a role, as
// RDS's DBEngineVersion lists them; RDS for MariaDB has none.
var roleFeatures = map[string][]string{"postgres": {"Lambda", "s3Export", "s3Import"}}

// roleActive is the status RDS gives an association once it is in use;
// teal's is at once.
const roleActive = "ACTIVE"

func checkRoleRequest(id, roleArn, feature string) error {
	switch {
	case id == "":
		return missing("DBInstanceIdentifier")
	case roleArn == "":
		return missing("RoleArn")
	case feature == "":
		return missing("FeatureName")
	case !iamRoleArnRE.MatchString(roleArn):
		return invalidValue("Invalid RoleArn %q: it must be the ARN of an IAM role, arn:aws:iam::<account>:role/<name>.", roleArn)
	}
	return nil
}

// AddRoleToDBInstance associates an IAM role with an available instance for
// one of its engine's features: one role per feature, each role once.
func (s *Service) AddRoleToDBInstance(ctx context.Context, id, roleArn, feature string) error {
	if err := checkRoleRequest(id, roleArn, feature); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	r := s.findLocked(id)
	if r == nil {
		return instanceNotFound(id)
	}
	if r.ClusterResourceID != "" {
		return invalidCombination("DB instance %s is a member of a DB cluster: associate roles with the DB cluster.", r.Identifier)
	}
	features := roleFeatures[r.Engine]
	if !slices.Contains(features, feature) {
		if len(features) == 0 {
			return invalidValue("The feature %s is not supported for engine %s: it has no features that take an IAM role.", feature, r.Engine)
		}
		return invalidValue("The feature %s is not supported for engine %s. Its features are %s.", feature, r.Engine, strings.Join(features, ", "))
	}
	if r.Status != StatusAvailable {
		return invalidInstanceState(r.Identifier, r.Status, StatusAvailable)
	}
	for _, have := range r.Roles {
		if have.RoleArn == roleArn {
			return fault("DBInstanceRoleAlreadyExists", http.StatusBadRequest, "Role %s is already associated with DB instance %s.", roleArn, r.Identifier)
		}
		if have.FeatureName == feature {
			return fault("DBInstanceRoleAlreadyExists", http.StatusBadRequest, "DB instance %s already has role %s for the feature %s.",
				r.Identifier, have.RoleArn, feature)
		}
	}
	return s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.Roles = append(slices.Clone(r.Roles), InstanceRole{RoleArn: roleArn, FeatureName: feature, Status: roleActive})
		return configuration("Associated IAM role " + roleArn + " with the DB instance for the feature " + feature)
	})
}

// RemoveRoleFromDBInstance ends the association of a role with an instance
// for a feature.
func (s *Service) RemoveRoleFromDBInstance(ctx context.Context, id, roleArn, feature string) error {
	if err := checkRoleRequest(id, roleArn, feature); err != nil {
		return err
	}
	s.lock()
	defer s.unlock()
	r := s.findLocked(id)
	if r == nil {
		return instanceNotFound(id)
	}
	i := slices.IndexFunc(r.Roles, func(have InstanceRole) bool { return have.RoleArn == roleArn && have.FeatureName == feature })
	if i < 0 {
		return fault("DBInstanceRoleNotFound", http.StatusNotFound, "Role %s is not associated with DB instance %s for the feature %s.",
			roleArn, r.Identifier, feature)
	}
	if r.Status != StatusAvailable {
		return invalidInstanceState(r.Identifier, r.Status, StatusAvailable)
	}
	return s.updateInstanceLocked(r, func(next *instanceRecord) note {
		next.Roles = slices.Delete(slices.Clone(r.Roles), i, i+1)
		return configuration("Disassociated IAM role " + roleArn + " from the DB instance for the feature " + feature)
	})
}
