package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxPolicySize bounds a policy document, like IAM's limit on managed
// policies, so a stored key cannot make every request slow to evaluate.
const MaxPolicySize = 6144

// Policy is a parsed identity-based policy. The zero value allows nothing.
type Policy struct {
	statements []statement
}

// statement is one Statement entry. Exactly one of actions/notActions and one
// of resources/notResources is set; the "not" forms apply to everything the
// list does not match.
type statement struct {
	sid          string
	allow        bool
	actions      []string // lower-cased: actions match case-insensitively
	notActions   []string
	resources    []string
	notResources []string
}

// ParsePolicy parses and validates an IAM-style policy document. Errors are
// *fault.Fault InvalidParameterValue messages that say what to fix.
//
// Parts teal cannot honour, such as Condition, are refused rather than
// ignored: ignoring a condition on an Allow would grant more than the author
// meant, and ignoring one on a Deny would refuse less.
func ParsePolicy(doc []byte) (*Policy, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, malformedPolicy("the policy document is empty; it needs at least one Allow statement to grant anything.")
	}
	if len(doc) > MaxPolicySize {
		return nil, malformedPolicy("the policy document is %d bytes; the limit is %d.", len(doc), MaxPolicySize)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, malformedPolicy("the policy document is not a JSON object: %s.", jsonProblem(err))
	}
	for _, k := range sortedKeys(top) {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, malformedPolicy("unknown policy element %q; expected Version, Id and Statement.", k)
		}
	}
	if v, ok := top["Version"]; ok {
		var version string
		if err := json.Unmarshal(v, &version); err != nil {
			return nil, malformedPolicy("Version must be a string such as \"2012-10-17\".")
		}
		if version != "2012-10-17" && version != "2008-10-17" {
			return nil, malformedPolicy("the policy must contain a valid version string: \"2012-10-17\", not %q.", version)
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, malformedPolicy("the policy has no Statement.")
	}
	var list []json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, malformedPolicy("Statement must be an object or a list of objects: %s.", jsonProblem(err))
		}
	} else {
		list = []json.RawMessage{raw}
	}
	if len(list) == 0 {
		return nil, malformedPolicy("the Statement list is empty.")
	}
	p := &Policy{}
	for i, r := range list {
		s, err := parseStatement(r)
		if err != nil {
			return nil, malformedPolicy("Statement %d: %v.", i+1, err)
		}
		p.statements = append(p.statements, s)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage) (statement, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return statement{}, fmt.Errorf("it must be a JSON object: %s", jsonProblem(err))
	}
	var s statement
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		var err error
		switch k {
		case "Sid":
			if json.Unmarshal(v, &s.sid) != nil {
				err = errors.New("Sid must be a string")
			}
		case "Effect":
			var effect string
			if json.Unmarshal(v, &effect) != nil || (effect != "Allow" && effect != "Deny") {
				err = fmt.Errorf("Effect must be \"Allow\" or \"Deny\", not %s", v)
			}
			s.allow = effect == "Allow"
		case "Action":
			s.actions, err = parseActions(k, v)
		case "NotAction":
			s.notActions, err = parseActions(k, v)
		case "Resource":
			s.resources, err = parseResources(k, v)
		case "NotResource":
			s.notResources, err = parseResources(k, v)
		case "Principal", "NotPrincipal":
			err = fmt.Errorf("an identity-based policy must not specify a principal (%s); the policy applies to the key it is attached to", k)
		case "Condition":
			err = errors.New("Condition is not supported; write the statement with Action and Resource only")
		default:
			err = fmt.Errorf("unknown statement element %q", k)
		}
		if err != nil {
			return statement{}, err
		}
	}
	switch {
	case fields["Effect"] == nil:
		return statement{}, errors.New("Effect is missing")
	case (s.actions == nil) == (s.notActions == nil):
		return statement{}, errors.New("it must have exactly one of Action and NotAction")
	case (s.resources == nil) == (s.notResources == nil):
		return statement{}, errors.New("it must have exactly one of Resource and NotResource")
	}
	return s, nil
}

// parseActions accepts a string or a list of strings, each "*" or
// "service:action" with optional wildcards.
func parseActions(field string, v json.RawMessage) ([]string, error) {
	list, err := stringOrList(field, v)
	if err != nil {
		return nil, err
	}
	for i, a := range list {
		if a != "*" {
			service, name, ok := strings.Cut(a, ":")
			if !ok || service == "" || name == "" {
				return nil, fmt.Errorf("%s %q must be prefixed by a service, as in \"rds:DescribeDBInstances\" or \"rds:Describe*\"", field, a)
			}
		}
		list[i] = strings.ToLower(a)
	}
	return list, nil
}

// parseResources accepts "*" or ARNs, which have six colon-separated parts.
func parseResources(field string, v json.RawMessage) ([]string, error) {
	list, err := stringOrList(field, v)
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		if r != "*" && (!strings.HasPrefix(r, "arn:") || strings.Count(r, ":") < 5) {
			return nil, fmt.Errorf("%s %q must be \"*\" or an ARN such as \"arn:aws:rds:us-east-1:000000000000:db:*\"", field, r)
		}
	}
	return list, nil
}

func stringOrList(field string, v json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(v, &one) == nil {
		if one == "" {
			return nil, fmt.Errorf("%s must not be empty", field)
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("%s must be a string or a list of strings", field)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s must not be an empty list", field)
	}
	for _, s := range list {
		if s == "" {
			return nil, fmt.Errorf("%s must not contain an empty string", field)
		}
	}
	return list, nil
}

// jsonProblem names where a document stopped parsing, without echoing it.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("%v at byte %d", syntax, syntax.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("found a JSON %s", typ.Value)
	}
	return err.Error()
}

// sortedKeys gives a stable order, so the same bad document always gets the
// same message.
func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
