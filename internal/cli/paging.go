package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// paging is what the AWS CLI offers for listing calls: every page by
// default, --max-items to stop early and --starting-token to go on from
// there, --no-paginate for one page.
type paging struct {
	noPaginate    bool
	pageSize      int32
	maxItems      int
	startingToken string
}

func (p *paging) flags() []*flagDef {
	num := func(name, usage string, set func(n int)) *flagDef {
		return &flagDef{name: name, arg: "N", usage: usage, set: func(w []string) error {
			n, err := strconv.Atoi(w[0])
			if err != nil || n <= 0 || n > 1<<30 {
				return fmt.Errorf("expected a positive integer, got %q", w[0])
			}
			set(n)
			return nil
		}}
	}
	return []*flagDef{
		{name: "no-paginate", usage: "fetch only the first page", set: func([]string) error { p.noPaginate = true; return nil }},
		num("page-size", "items to ask for in each call", func(n int) { p.pageSize = int32(n) }),
		num("max-items", "stop after this many items, and print a NextToken to go on from", func(n int) { p.maxItems = n }),
		{name: "starting-token", arg: "TOKEN", usage: "the NextToken of an earlier call", set: func(w []string) error { p.startingToken = w[0]; return nil }},
	}
}

// isPaged reports whether an input has the Marker and MaxRecords of a
// listing call.
func isPaged(in any) bool {
	t := reflect.TypeOf(in).Elem()
	_, marker := t.FieldByName("Marker")
	_, max := t.FieldByName("MaxRecords")
	return marker && max
}

// maxPages bounds a listing against a server that never stops handing out
// markers.
const maxPages = 10000

// callAllPages calls a listing operation until the server returns no
// marker or --max-items are had, and returns the first page's output
// holding every item, and the token to go on from when items are left.
func callAllPages(ctx context.Context, o op, c *rds.Client, in any, p paging) (any, string, error) {
	iv := reflect.ValueOf(in).Elem()
	marker := iv.FieldByName("Marker")
	if !marker.IsNil() || !iv.FieldByName("MaxRecords").IsNil() {
		// As in the AWS CLI, the raw paging members turn paging off.
		p.noPaginate = true
	}
	if p.noPaginate && (p.pageSize != 0 || p.maxItems != 0 || p.startingToken != "") {
		return nil, "", usagef("--no-paginate, --marker and --max-records cannot be used with --page-size, --max-items or --starting-token")
	}
	if p.noPaginate {
		out, err := o.call(ctx, c, in)
		return out, "", err
	}
	if p.pageSize != 0 {
		iv.FieldByName("MaxRecords").Set(reflect.ValueOf(aws.Int32(p.pageSize)))
	}
	skip := 0
	if p.startingToken != "" {
		t, err := decodeToken(p.startingToken)
		if err != nil {
			return nil, "", usagef("--starting-token: %v", err)
		}
		if t.Marker != nil {
			marker.Set(reflect.ValueOf(t.Marker))
		}
		skip = t.Skip
	}
	var first, items reflect.Value
	next := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, "", fmt.Errorf("%s: stopped after %d pages", o.name, maxPages)
		}
		pageMarker, _ := marker.Interface().(*string)
		out, err := o.call(ctx, c, in)
		if err != nil {
			return nil, "", err
		}
		ov := reflect.ValueOf(out).Elem()
		list := listField(ov)
		if !list.IsValid() {
			return out, "", nil
		}
		skipped := 0
		if page == 0 {
			first, items = ov, reflect.MakeSlice(list.Type(), 0, list.Len())
			skipped = min(skip, list.Len())
			list = list.Slice(skipped, list.Len())
		}
		had := items.Len()
		items = reflect.AppendSlice(items, list)
		nextMarker, _ := ov.FieldByName("Marker").Interface().(*string)
		more := nextMarker != nil && *nextMarker != ""
		if p.maxItems > 0 && items.Len() > p.maxItems {
			// Stopped inside this page: the token fetches it again and
			// skips what was shown.
			next = encodeToken(pageToken{Marker: pageMarker, Skip: skipped + p.maxItems - had})
			items = items.Slice(0, p.maxItems)
			break
		}
		if !more {
			break
		}
		if p.maxItems > 0 && items.Len() == p.maxItems {
			next = encodeToken(pageToken{Marker: nextMarker})
			break
		}
		if seen[*nextMarker] {
			return nil, "", fmt.Errorf("%s: the server returned marker %q twice", o.name, *nextMarker)
		}
		seen[*nextMarker] = true
		marker.Set(reflect.ValueOf(nextMarker))
	}
	listField(first).Set(items)
	first.FieldByName("Marker").SetZero()
	return first.Addr().Interface(), next, nil
}

// listField is the one list in a listing call's output.
func listField(v reflect.Value) reflect.Value {
	for i := 0; i < v.NumField(); i++ {
		if f := v.Type().Field(i); f.IsExported() && f.Type.Kind() == reflect.Slice {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

// pageToken is a NextToken in the AWS CLI's (botocore's) encoding, base64
// of {"Marker": ..., "boto_truncate_amount": N}, so tokens from either
// tool work in both.
type pageToken struct {
	Marker *string `json:"Marker"`
	Skip   int     `json:"boto_truncate_amount,omitempty"`
}

func encodeToken(t pageToken) string {
	// Python's json.dumps spacing, as botocore writes it.
	marker := "null"
	if t.Marker != nil {
		marker = jsonString(*t.Marker)
	}
	s := `{"Marker": ` + marker
	if t.Skip > 0 {
		s += `, "boto_truncate_amount": ` + strconv.Itoa(t.Skip)
	}
	return base64.StdEncoding.EncodeToString([]byte(s + "}"))
}

func decodeToken(s string) (pageToken, error) {
	var t pageToken
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return t, fmt.Errorf("not a NextToken: %w", err)
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("not a NextToken: %w", err)
	}
	if t.Skip < 0 {
		return t, fmt.Errorf("not a NextToken: negative boto_truncate_amount")
	}
	return t, nil
}
