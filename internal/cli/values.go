package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var timeType = reflect.TypeOf(time.Time{})

// setMember fills one field of an SDK input from the words given after its
// option, the way the AWS CLI reads them:
//   - scalars take one word; numbers, booleans and timestamps are parsed;
//   - lists take one or more words, or one JSON array;
//   - each structure, alone or in a list, is shorthand ("Key=a,Value=b") or
//     a JSON object;
//   - any word may be file://PATH, which reads the value from a file.
func setMember(v reflect.Value, words []string) error {
	for i, w := range words {
		if path, ok := strings.CutPrefix(w, "file://"); ok {
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			words[i] = strings.TrimRight(string(data), "\r\n")
		}
	}
	t := v.Type()
	if t.Kind() == reflect.Slice {
		if len(words) == 1 && strings.HasPrefix(strings.TrimSpace(words[0]), "[") {
			x, err := decodeJSON(words[0])
			if err != nil {
				return err
			}
			return assign(v, x)
		}
		items := make([]any, len(words))
		for i, w := range words {
			x, err := readWord(t.Elem(), w)
			if err != nil {
				return err
			}
			items[i] = x
		}
		return assign(v, items)
	}
	if len(words) != 1 {
		return fmt.Errorf("takes one value, got %d", len(words))
	}
	x, err := readWord(t, words[0])
	if err != nil {
		return err
	}
	return assign(v, x)
}

// readWord reads one word for a value of type t: a structure is parsed as
// JSON or shorthand, anything else stays a string for assign to convert.
func readWord(t reflect.Type, w string) (any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return w, nil
	}
	if strings.HasPrefix(strings.TrimSpace(w), "{") {
		return decodeJSON(w)
	}
	m, err := parseShorthand(w)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func decodeJSON(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if d.More() {
		return nil, fmt.Errorf("invalid JSON: more than one value")
	}
	return x, nil
}

// assign stores x, a value read from shorthand or JSON (string, bool,
// json.Number, []any, map[string]any), into v, converting it to v's type.
func assign(v reflect.Value, x any) error {
	t := v.Type()
	if x == nil {
		return nil
	}
	if t.Kind() == reflect.Pointer {
		p := reflect.New(t.Elem())
		if err := assign(p.Elem(), x); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	if t == timeType {
		tm, err := parseTime(x)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(tm))
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("expected a string, got %s", describeValue(x))
		}
		v.SetString(s)
	case reflect.Bool:
		switch b := x.(type) {
		case bool:
			v.SetBool(b)
		case string:
			switch strings.ToLower(strings.TrimSpace(b)) {
			case "true":
				v.SetBool(true)
			case "false":
				v.SetBool(false)
			default:
				return fmt.Errorf("expected true or false, got %q", b)
			}
		default:
			return fmt.Errorf("expected true or false, got %s", describeValue(x))
		}
	case reflect.Int32, reflect.Int64, reflect.Int:
		s := scalarText(x)
		n, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			return fmt.Errorf("expected an integer, got %q", s)
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		s := scalarText(x)
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			return fmt.Errorf("expected a number, got %q", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		items, ok := x.([]any)
		if !ok {
			// "Values=postgres" is a one-element list, as in the AWS CLI.
			items = []any{x}
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, it := range items {
			if err := assign(s.Index(i), it); err != nil {
				return fmt.Errorf("item %d: %w", i+1, err)
			}
		}
		v.Set(s)
	case reflect.Struct:
		m, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("expected %s, got %s", structHint(t), describeValue(x))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := t.FieldByName(k)
			if !ok || !f.IsExported() || f.Anonymous {
				return fmt.Errorf("unknown key %q, must be one of: %s", k, strings.Join(memberNames(t), ", "))
			}
			if err := assign(v.FieldByIndex(f.Index), m[k]); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	default:
		return fmt.Errorf("values of type %s are not supported", t)
	}
	return nil
}

func scalarText(x any) string {
	switch s := x.(type) {
	case string:
		return strings.TrimSpace(s)
	case json.Number:
		return s.String()
	}
	return describeValue(x)
}

func describeValue(x any) string {
	switch x.(type) {
	case []any:
		return "a list"
	case map[string]any:
		return "a structure"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%q", fmt.Sprint(x))
}

// parseTime accepts what the AWS CLI accepts for a timestamp: ISO 8601,
// with or without a time or zone, or seconds since the epoch.
func parseTime(x any) (time.Time, error) {
	s := scalarText(x)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("expected a timestamp such as 2026-01-02T15:04:05Z or seconds since the epoch, got %q", s)
}

// memberNames lists the exported fields of an SDK structure.
func memberNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() && !f.Anonymous {
			names = append(names, f.Name)
		}
	}
	return names
}

// structHint shows the shorthand form of a structure, e.g.
// "Key=string,Value=string".
func structHint(t reflect.Type) string {
	var b bytes.Buffer
	for i, name := range memberNames(t) {
		if i > 0 {
			b.WriteByte(',')
		}
		f, _ := t.FieldByName(name)
		b.WriteString(name + "=" + typeHint(f.Type))
	}
	return b.String()
}

// typeHint names a type as the AWS CLI's help does.
func typeHint(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "timestamp"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int32, reflect.Int64, reflect.Int:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "double"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "[{" + structHint(t.Elem()) + "},...]"
		}
		return typeHint(t.Elem()) + "," + typeHint(t.Elem())
	case reflect.Struct:
		return "{" + structHint(t) + "}"
	}
	return "string"
}
