package auth

import (
	"strings"
)

// Decision is the outcome of evaluating a policy for one action on one
// resource.
type Decision int

// The three outcomes IAM distinguishes; only Allowed lets a request through.
// ImplicitDeny and ExplicitDeny differ in the message the caller sees.
const (
	ImplicitDeny Decision = iota // no statement allows it
	Allowed
	ExplicitDeny // a Deny statement matches; it wins over any Allow
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicit deny"
	default:
		return "implicit deny"
	}
}

// Decide evaluates the policy for action (such as "rds:CreateDBInstance") on
// resource (an ARN, or "*" for actions that name no resource). A nil policy
// allows nothing.
func (p *Policy) Decide(action, resource string) Decision {
	if p == nil {
		return ImplicitDeny
	}
	action = strings.ToLower(action)
	d := ImplicitDeny
	for _, s := range p.statements {
		if !s.applies(action, resource) {
			continue
		}
		if !s.allow {
			return ExplicitDeny
		}
		d = Allowed
	}
	return d
}

func (s statement) applies(action, resource string) bool {
	actionMatches := s.actions != nil && anyMatch(s.actions, action, matchAction)
	if s.notActions != nil {
		actionMatches = !anyMatch(s.notActions, action, matchAction)
	}
	if !actionMatches {
		return false
	}
	if s.notResources != nil {
		return !anyMatch(s.notResources, resource, matchResource)
	}
	return anyMatch(s.resources, resource, matchResource)
}

func anyMatch(patterns []string, value string, match func(pattern, value string) bool) bool {
	for _, p := range patterns {
		if match(p, value) {
			return true
		}
	}
	return false
}

// matchAction compares a lower-cased pattern with a lower-cased action.
func matchAction(pattern, action string) bool {
	return wildcardMatch(pattern, action)
}

// matchResource matches ARNs the way IAM does: wildcards stay within the
// partition, service, region and account segments, while the last segment
// (which may itself contain colons, as in "db:mydb") matches as a whole.
// Matching is case-sensitive.
func matchResource(pattern, resource string) bool {
	if pattern == "*" {
		return true
	}
	ps := strings.SplitN(pattern, ":", 6)
	rs := strings.SplitN(resource, ":", 6)
	if len(ps) != 6 || len(rs) != 6 {
		return wildcardMatch(pattern, resource)
	}
	for i := range ps {
		if !wildcardMatch(ps[i], rs[i]) {
			return false
		}
	}
	return true
}

// wildcardMatch reports whether s matches pattern, where "*" matches any run
// of characters (including none) and "?" exactly one.
func wildcardMatch(pattern, s string) bool {
	p, v := []rune(pattern), []rune(s)
	pi, vi := 0, 0
	star, resume := -1, 0 // last "*" seen, and where its match would extend from
	for vi < len(v) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == v[vi]):
			pi++
			vi++
		case pi < len(p) && p[pi] == '*':
			star, resume = pi, vi
			pi++
		case star >= 0:
			// Let the last "*" swallow one more character and retry.
			resume++
			pi, vi = star+1, resume
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
