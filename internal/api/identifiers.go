package api

import (
	"fmt"
	"reflect"

	"github.com/tealdb/teal/internal/rds"
)

// canonicalize rewrites the members of a decoded input that name resources
// to their canonical form, as the input's query tags say:
//
//	name=db     the identifier of a resource to create: checked, lower-cased
//	id=db       an existing resource, by identifier or ARN: its identifier
//	arn=db|pg   an existing resource, by ARN only: its canonical ARN
//
// It runs between decoding and the authorization rule, so the rule builds
// the ARNs it checks from the same value the handler then acts on. Whatever
// the request gave, a malformed reference is refused here, and an ARN of
// another partition, region or account names nothing teal has.
func canonicalize(scope rds.Scope, in any) error {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	return canonicalizeStruct(scope, v.Elem())
}

func canonicalizeStruct(scope rds.Scope, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			if err := canonicalizeStruct(scope, v.Field(i)); err != nil {
				return err
			}
			continue
		}
		if !sf.IsExported() || sf.Tag.Get("query") == "-" {
			continue
		}
		spec := specOf(sf)
		if spec.nameOf == "" && spec.idOf == "" && spec.arnOf == nil {
			continue
		}
		f := v.Field(i)
		if f.Kind() != reflect.String {
			return fmt.Errorf("canonicalize %s: a resource reference must be a string, not %s", spec.name, f.Type())
		}
		ref := f.String()
		if ref == "" {
			continue // absent: the operation's own rules apply
		}
		var canon string
		var err error
		switch {
		case spec.nameOf != "":
			canon, err = rds.Name(spec.nameOf, spec.name, ref)
		case spec.idOf != "":
			canon, err = scope.Identifier(spec.idOf, spec.name, ref)
		default:
			var arn rds.ARN
			arn, err = scope.ResolveARN(spec.name, ref, spec.arnOf...)
			canon = arn.String()
		}
		if err != nil {
			return err
		}
		f.SetString(canon)
	}
	return nil
}
