package auth

import (
	"fmt"
	"strings"
)

// Principal is the caller a request was authenticated as.
type Principal struct {
	AccessKeyID string
	Root        bool
	// ARN is arn:aws:iam::ACCOUNT:root for the root key and
	// arn:aws:iam::ACCOUNT:user/<key id> for the others.
	ARN    string
	policy *Policy
}

// IsRoot reports whether the principal holds the root key, the only one that
// may manage access keys.
func (p Principal) IsRoot() bool { return p.Root }

// KeyID is the principal's access key id, for request logs.
func (p Principal) KeyID() string { return p.AccessKeyID }

// Authorize decides whether the principal may perform action on every one of
// resources. action is "rds:CreateDBInstance"; a bare "CreateDBInstance" is
// taken to be an rds action. With no resources the action is checked against
// "*", as IAM does for actions that name none, so only a statement with
// Resource "*" allows it.
//
// It returns nil or an *fault.Fault AccessDenied (403) naming the principal,
// the action and the first resource refused. The root key may do everything;
// a zero Principal may do nothing.
func (p Principal) Authorize(action string, resources ...string) error {
	if p.Root {
		return nil
	}
	if !strings.Contains(action, ":") {
		action = "rds:" + action
	}
	if len(resources) == 0 {
		switch p.policy.Decide(action, "*") {
		case Allowed:
			return nil
		case ExplicitDeny:
			return accessDenied("User: %s is not authorized to perform: %s with an explicit deny in an identity-based policy", p.user(), action)
		default:
			return accessDenied("User: %s is not authorized to perform: %s because no identity-based policy allows the %s action", p.user(), action, action)
		}
	}
	for _, r := range resources {
		switch p.policy.Decide(action, r) {
		case Allowed:
			continue
		case ExplicitDeny:
			return accessDenied("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", p.user(), action, r)
		default:
			return accessDenied("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", p.user(), action, r, action)
		}
	}
	return nil
}

// user names the principal in a refusal even if it was never authenticated.
func (p Principal) user() string {
	if p.ARN != "" {
		return p.ARN
	}
	if p.AccessKeyID != "" {
		return p.AccessKeyID
	}
	return "anonymous"
}

func rootARN(accountID string) string { return fmt.Sprintf("arn:aws:iam::%s:root", accountID) }

func userARN(accountID, keyID string) string {
	return fmt.Sprintf("arn:aws:iam::%s:user/%s", accountID, keyID)
}
