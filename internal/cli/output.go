package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// outputFormat is --output: table (the default), json or text.
type outputFormat struct{ name string }

func (f *outputFormat) flag() *flagDef {
	return &flagDef{name: "output", arg: "FORMAT", usage: "table (default), json or text", set: func(w []string) error {
		switch w[0] {
		case "table", "json", "text":
			f.name = w[0]
			return nil
		}
		return fmt.Errorf("expected table, json or text, got %q", w[0])
	}}
}

// render writes an operation's output; extra members, such as NextToken,
// are added to it as the AWS CLI adds them.
func (f *outputFormat) render(w io.Writer, res any, extra ...member) error {
	var b bytes.Buffer
	switch f.name {
	case "json", "text":
		t, _ := tree(reflect.ValueOf(res))
		if o, ok := t.(object); ok {
			t = append(o, extra...)
		}
		if f.name == "text" && t != nil {
			writeText(&b, t, "", nil)
		} else if t != nil && !isEmptyObject(t) {
			writeJSON(&b, t, 0)
			b.WriteByte('\n')
		}
	default:
		writeTable(&b, res)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// An object keeps its members in order.
type object []member

type member struct {
	name  string
	value any
}

func isEmptyObject(v any) bool {
	o, ok := v.(object)
	return ok && len(o) == 0
}

// tree turns an SDK value into what the AWS CLI prints for the same
// response: objects named by the API's member names, lists, strings,
// numbers, booleans and ISO 8601 timestamps. Members the response did not
// have (nil, or an empty enum) are left out, and so is ResultMetadata,
// which is the SDK's and not the API's.
func tree(v reflect.Value) (any, bool) {
	if !v.IsValid() {
		return nil, false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		return tree(v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			return isoTime(v.Interface().(time.Time)), true
		}
		obj := object{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Anonymous || f.Name == "ResultMetadata" {
				continue
			}
			if x, ok := tree(v.Field(i)); ok {
				obj = append(obj, member{f.Name, x})
			}
		}
		return obj, true
	case reflect.Slice:
		if v.IsNil() {
			return nil, false
		}
		list := []any{}
		for i := 0; i < v.Len(); i++ {
			if x, ok := tree(v.Index(i)); ok {
				list = append(list, x)
			}
		}
		return list, true
	case reflect.Map:
		if v.IsNil() {
			return nil, false
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		obj := object{}
		for _, k := range keys {
			if x, ok := tree(v.MapIndex(k)); ok {
				obj = append(obj, member{k.String(), x})
			}
		}
		return obj, true
	case reflect.String:
		// Non-pointer strings in the SDK are enums, empty when absent.
		return v.String(), v.String() != ""
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return nil, false
}

// isoTime formats a timestamp as Python's isoformat does, which is how the
// AWS CLI prints them: 2026-01-02T15:04:05.123000+00:00.
func isoTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "+00:00"
}

// writeJSON writes v indented by four spaces, as `aws --output json` does.
func writeJSON(b *bytes.Buffer, v any, depth int) {
	pad := func(d int) string { return strings.Repeat("    ", d) }
	switch x := v.(type) {
	case object:
		if len(x) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, m := range x {
			b.WriteString(pad(depth+1) + jsonString(m.name) + ": ")
			writeJSON(b, m.value, depth+1)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(pad(depth) + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(pad(depth + 1))
			writeJSON(b, e, depth+1)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(pad(depth) + "]")
	case string:
		b.WriteString(jsonString(x))
	default:
		data, _ := json.Marshal(x) // bool, int64 and float64 always marshal
		b.Write(data)
	}
}

// jsonString quotes s without escaping <, > and &, as Python's json does.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// writeText writes v as `aws --output text` does (awscli/text.py): each
// object's scalars on one tab-separated line, sorted by name and led by the
// upper-cased name of the list or member holding it; nested values follow.
func writeText(b *bytes.Buffer, v any, identifier string, scalarKeys []string) {
	switch x := v.(type) {
	case object:
		var scalars []string
		var nested []member
		if scalarKeys == nil {
			sorted := append(object(nil), x...)
			sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
			for _, m := range sorted {
				if isScalar(m.value) {
					scalars = append(scalars, textScalar(m.value))
				} else {
					nested = append(nested, m)
				}
			}
		} else {
			in := map[string]bool{}
			for _, k := range scalarKeys {
				in[k] = true
				s := ""
				for _, m := range x {
					if m.name == k {
						s = textScalar(m.value)
					}
				}
				scalars = append(scalars, s)
			}
			for _, m := range x {
				if !in[m.name] {
					nested = append(nested, m)
				}
			}
			sort.SliceStable(nested, func(i, j int) bool { return nested[i].name < nested[j].name })
		}
		if len(scalars) > 0 {
			if identifier != "" {
				scalars = append([]string{strings.ToUpper(identifier)}, scalars...)
			}
			b.WriteString(strings.Join(scalars, "\t") + "\n")
		}
		for _, m := range nested {
			writeText(b, m.value, m.name, nil)
		}
	case []any:
		writeTextList(b, x, identifier)
	default:
		b.WriteString(textScalar(x) + "\n")
	}
}

func writeTextList(b *bytes.Buffer, list []any, identifier string) {
	var scalars, others []any
	var keys []string
	seen := map[string]bool{}
	for _, e := range list {
		if isScalar(e) {
			scalars = append(scalars, e)
			continue
		}
		others = append(others, e)
		if o, ok := e.(object); ok {
			for _, m := range o {
				if isScalar(m.value) && !seen[m.name] {
					seen[m.name] = true
					keys = append(keys, m.name)
				}
			}
		}
	}
	sort.Strings(keys)
	if len(scalars) > 0 {
		if identifier != "" {
			for _, s := range scalars {
				b.WriteString(strings.ToUpper(identifier) + "\t" + textScalar(s) + "\n")
			}
		} else {
			words := make([]string, len(scalars))
			for i, s := range scalars {
				words[i] = textScalar(s)
			}
			b.WriteString(strings.Join(words, "\t") + "\n")
		}
	}
	for _, e := range others {
		if _, ok := e.(object); ok {
			writeText(b, e, identifier, append([]string{}, keys...))
		} else {
			writeText(b, e, identifier, nil)
		}
	}
}

func isScalar(v any) bool {
	switch v.(type) {
	case object, []any:
		return false
	}
	return true
}

// textScalar prints a scalar as Python's str() does.
func textScalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
