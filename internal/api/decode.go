package api

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tealdb/teal/internal/rds"
)

// The AWS Query protocol flattens a request into form keys:
//
//	DBInstanceIdentifier=db1
//	Tags.Tag.1.Key=env&Tags.Tag.1.Value=prod
//	Filters.Filter.1.Name=engine&Filters.Filter.1.Values.Value.1=postgres
//	TagKeys.member.1=env
//
// Input structs say where each member lives with a `query` tag: the member
// name, and for a list the member name followed by the list's member
// locationName from the service model ("Tags.Tag", "TagKeys.member"). Tag
// options: "required" answers MissingParameter when the member is absent;
// "unsupported" refuses a member teal does not implement, where silently
// ignoring it would mislead the caller; "name=TYPE", "id=TYPE" and
// "arn=TYPE|TYPE" mark a member that names a resource, which canonicalize
// rewrites to its canonical form before the request is authorized
// (identifiers.go).
//
// The members of an embedded struct are members of the request itself:
// requests that share members share a struct.
//
// Keys no field names are ignored, as RDS ignores members it does not use;
// that keeps newer clients working against teal.

// form is a request's values with their keys sorted, so that the keys of a
// list are found by binary search instead of a scan per list: a large
// request with many lists must not cost quadratic time.
type form struct {
	values url.Values
	keys   []string
}

func newForm(values url.Values) *form {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return &form{values: values, keys: keys}
}

func (f *form) get(key string) (string, bool) {
	v, ok := f.values[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// withPrefix returns the sorted keys that start with prefix.
func (f *form) withPrefix(prefix string) []string {
	i := sort.SearchStrings(f.keys, prefix)
	j := i
	for j < len(f.keys) && strings.HasPrefix(f.keys[j], prefix) {
		j++
	}
	return f.keys[i:j]
}

// indices lists the distinct element numbers of the list whose element keys
// start with prefix ("Tags.Tag."), in numeric order. Only canonical positive
// numbers count; other keys are not members and are ignored.
func (f *form) indices(prefix string) []string {
	seen := map[int]bool{}
	var nums []int
	for _, k := range f.withPrefix(prefix) {
		rest := k[len(prefix):]
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			rest = rest[:i]
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || strconv.Itoa(n) != rest || seen[n] {
			continue
		}
		seen[n] = true
		nums = append(nums, n)
	}
	sort.Ints(nums)
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// decode fills the struct dst points to from the form.
func decode(f *form, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("decode into %T: not a pointer to a struct", dst)
	}
	return decodeStruct(f, v.Elem(), "")
}

type fieldSpec struct {
	name        string // the member's location, e.g. "Tags.Tag"
	required    bool
	unsupported bool
	nameOf      string   // "name=db": the identifier of a new resource of this type
	idOf        string   // "id=db": an identifier of this resource type, or its ARN
	arnOf       []string // "arn=db|pg": an ARN of one of these resource types
}

func specOf(sf reflect.StructField) fieldSpec {
	tag := sf.Tag.Get("query")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = sf.Name
	}
	s := fieldSpec{name: name}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "required":
			s.required = true
		case "unsupported":
			s.unsupported = true
		default:
			if t, ok := strings.CutPrefix(o, "name="); ok {
				s.nameOf = t
			} else if t, ok := strings.CutPrefix(o, "id="); ok {
				s.idOf = t
			} else if t, ok := strings.CutPrefix(o, "arn="); ok {
				s.arnOf = strings.Split(t, "|")
			}
		}
	}
	return s
}

var timeType = reflect.TypeOf(time.Time{})

func decodeStruct(f *form, v reflect.Value, prefix string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			// An embedded struct's members are the request's own.
			if err := decodeStruct(f, v.Field(i), prefix); err != nil {
				return err
			}
			continue
		}
		if !sf.IsExported() || sf.Tag.Get("query") == "-" {
			continue
		}
		spec := specOf(sf)
		key := prefix + spec.name
		present, err := decodeField(f, v.Field(i), key)
		if err != nil {
			return err
		}
		if present && spec.unsupported {
			return invalidValue("teal does not support the parameter %s.", key)
		}
		if !present && spec.required {
			return missingParameter(key)
		}
	}
	return nil
}

// decodeField fills one field from the form and reports whether the request
// gave it.
func decodeField(f *form, v reflect.Value, key string) (bool, error) {
	if v.Type() == timeType {
		s, ok := f.get(key)
		if !ok {
			return false, nil
		}
		t, err := parseTime(s)
		if err != nil {
			return true, invalidValue("Invalid value for parameter %s: %q is not an ISO 8601 timestamp.", key, s)
		}
		v.Set(reflect.ValueOf(t))
		return true, nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		present, err := decodeField(f, elem.Elem(), key)
		if present && err == nil {
			v.Set(elem)
		}
		return present, err
	case reflect.String:
		s, ok := f.get(key)
		if ok {
			v.SetString(s)
		}
		return ok, nil
	case reflect.Int, reflect.Int64:
		s, ok := f.get(key)
		if !ok {
			return false, nil
		}
		// The model's integers are 32-bit and its longs 64-bit (int64
		// fields); a larger value is as invalid as a word.
		bits := 32
		if v.Kind() == reflect.Int64 {
			bits = 64
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
		if err != nil {
			return true, invalidValue("Invalid value for parameter %s: %q is not an integer.", key, s)
		}
		v.SetInt(n)
		return true, nil
	case reflect.Bool:
		s, ok := f.get(key)
		if !ok {
			return false, nil
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return true, invalidValue("Invalid value for parameter %s: %q is not a boolean; use true or false.", key, s)
		}
		return true, nil
	case reflect.Struct:
		// A structure is given when any of its members is.
		present := len(f.withPrefix(key+".")) > 0
		return present, decodeStruct(f, v, key+".")
	case reflect.Slice:
		return decodeList(f, v, key)
	}
	return false, fmt.Errorf("decode %s: unsupported field type %s", key, v.Type())
}

// decodeList fills a list member located at key ("Tags.Tag"). An empty list
// is sent as the list's own name with an empty value ("Tags="), so that name
// alone makes the list present.
func decodeList(f *form, v reflect.Value, key string) (bool, error) {
	listName := key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		listName = key[:i]
	}
	_, present := f.get(listName)
	idx := f.indices(key + ".")
	if len(idx) > 0 {
		present = true
	}
	if !present {
		return false, nil
	}
	out := reflect.MakeSlice(v.Type(), len(idx), len(idx))
	for i, n := range idx {
		if _, err := decodeField(f, out.Index(i), key+"."+n); err != nil {
			return true, err
		}
	}
	v.Set(out)
	return true, nil
}

// parseTime accepts the ISO 8601 forms AWS clients send: boto3 and the CLI
// send 2006-01-02T15:04:05Z (with fractional seconds when set), the RDS
// documentation shows 2009-07-08T18:00Z, and a bare date is common by hand.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a timestamp: %q", s)
}

func invalidValue(format string, args ...any) *rds.Fault {
	return &rds.Fault{Code: "InvalidParameterValue", Status: 400, Message: fmt.Sprintf(format, args...)}
}

func missingParameter(name string) *rds.Fault {
	return &rds.Fault{Code: "MissingParameter", Status: 400,
		Message: fmt.Sprintf("The request must contain the parameter %s", name)}
}
