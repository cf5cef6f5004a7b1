package cli

import (
	"bytes"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// A view is how the table output shows one kind of item: a row each.
type view struct {
	columns []column
	row     func(any) []string
}

type column struct {
	title    string
	optional bool // left out when empty in every row
}

func col(title string) column     { return column{title: title} }
func optCol(title string) column  { return column{title: title, optional: true} }
func typeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

func newView[T any](columns []column, row func(T) []string) view {
	return view{columns: columns, row: func(x any) []string { return row(x.(T)) }}
}

// views holds the tables of the items operations return. An output whose
// items have no view is shown as name/value lines.
var views = map[reflect.Type]view{
	typeOf[types.DBInstance](): newView([]column{col("IDENTIFIER"), col("ENGINE"), col("VERSION"), col("STATUS"),
		col("ENDPOINT"), col("CLASS"), optCol("REPLICA OF"), optCol("REPLICAS")},
		func(i types.DBInstance) []string {
			endpoint := ""
			if i.Endpoint != nil && i.Endpoint.Address != nil {
				endpoint = *i.Endpoint.Address + ":" + num(i.Endpoint.Port)
			}
			return []string{str(i.DBInstanceIdentifier), str(i.Engine), str(i.EngineVersion), str(i.DBInstanceStatus),
				endpoint, str(i.DBInstanceClass), str(i.ReadReplicaSourceDBInstanceIdentifier),
				strings.Join(i.ReadReplicaDBInstanceIdentifiers, ",")}
		}),
	typeOf[types.DBCluster](): newView([]column{col("IDENTIFIER"), col("VERSION"), col("STATUS"),
		col("ENDPOINT"), col("READER ENDPOINT"), col("MEMBERS")},
		func(c types.DBCluster) []string {
			endpoint, reader := "", str(c.ReaderEndpoint)
			if c.Endpoint != nil {
				endpoint = *c.Endpoint + ":" + num(c.Port)
			}
			if _, _, err := net.SplitHostPort(reader); reader != "" && err != nil {
				// RDS names the reader endpoint's host only; it listens
				// on the cluster's port. teal's has a port of its own.
				reader += ":" + num(c.Port)
			}
			return []string{str(c.DBClusterIdentifier), str(c.EngineVersion), str(c.Status),
				endpoint, reader, clusterMembers(c.DBClusterMembers)}
		}),
	typeOf[types.DBClusterEndpoint](): newView([]column{col("CLUSTER"), optCol("IDENTIFIER"), col("TYPE"), optCol("CUSTOM TYPE"),
		col("STATUS"), col("ENDPOINT"), optCol("STATIC MEMBERS"), optCol("EXCLUDED MEMBERS")},
		func(e types.DBClusterEndpoint) []string {
			return []string{str(e.DBClusterIdentifier), str(e.DBClusterEndpointIdentifier), str(e.EndpointType),
				str(e.CustomEndpointType), str(e.Status), str(e.Endpoint),
				strings.Join(e.StaticMembers, ","), strings.Join(e.ExcludedMembers, ",")}
		}),
	typeOf[types.DBClusterParameterGroup](): newView([]column{col("NAME"), col("FAMILY"), col("DESCRIPTION")},
		func(g types.DBClusterParameterGroup) []string {
			return []string{str(g.DBClusterParameterGroupName), str(g.DBParameterGroupFamily), str(g.Description)}
		}),
	typeOf[types.DBParameterGroup](): newView([]column{col("NAME"), col("FAMILY"), col("DESCRIPTION")},
		func(g types.DBParameterGroup) []string {
			return []string{str(g.DBParameterGroupName), str(g.DBParameterGroupFamily), str(g.Description)}
		}),
	typeOf[types.Parameter](): newView([]column{col("NAME"), col("VALUE"), col("SOURCE"), col("APPLY TYPE"), optCol("APPLY METHOD")},
		func(p types.Parameter) []string {
			return []string{str(p.ParameterName), str(p.ParameterValue), str(p.Source), str(p.ApplyType), string(p.ApplyMethod)}
		}),
	typeOf[types.DBEngineVersion](): newView([]column{col("ENGINE"), col("VERSION"), col("PARAMETER GROUP FAMILY"), col("DESCRIPTION"), optCol("STATUS")},
		func(v types.DBEngineVersion) []string {
			return []string{str(v.Engine), str(v.EngineVersion), str(v.DBParameterGroupFamily), str(v.DBEngineVersionDescription), str(v.Status)}
		}),
	typeOf[types.Event](): newView([]column{col("DATE"), col("SOURCE"), col("MESSAGE")},
		func(e types.Event) []string {
			return []string{date(e.Date), str(e.SourceIdentifier), str(e.Message)}
		}),
	typeOf[types.Tag](): newView([]column{col("KEY"), col("VALUE")},
		func(t types.Tag) []string { return []string{str(t.Key), str(t.Value)} }),
	typeOf[accessKey](): newView([]column{col("ACCESS KEY ID"), col("DESCRIPTION"), col("CREATED")},
		func(k accessKey) []string {
			return []string{str(k.AccessKeyId), str(k.Description), date(k.CreateDate)}
		}),
}

// clusterMembers lists a cluster's instances, the writer first and marked.
func clusterMembers(members []types.DBClusterMember) string {
	var writers, readers []string
	for _, m := range members {
		if m.IsClusterWriter != nil && *m.IsClusterWriter {
			writers = append(writers, str(m.DBInstanceIdentifier)+" (writer)")
		} else {
			readers = append(readers, str(m.DBInstanceIdentifier))
		}
	}
	return strings.Join(append(writers, readers...), ",")
}

// writeTable shows the output's items with their view: a list gives a row
// per item, a single item (as create and modify return) one row.
func writeTable(b *bytes.Buffer, res any) {
	v := reflect.Indirect(reflect.ValueOf(res))
	if v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Slice:
			if vw, ok := views[f.Type().Elem()]; ok {
				rows := make([][]string, f.Len())
				for j := range rows {
					rows[j] = vw.row(f.Index(j).Interface())
				}
				writeRows(b, vw.columns, rows)
				return
			}
		case f.Kind() == reflect.Pointer && !f.IsNil():
			if vw, ok := views[f.Type().Elem()]; ok {
				writeRows(b, vw.columns, [][]string{vw.row(f.Elem().Interface())})
				return
			}
		}
	}
	writeFields(b, res)
}

func writeRows(b *bytes.Buffer, columns []column, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	var keep []int
	for c, col := range columns {
		used := !col.optional
		for _, r := range rows {
			used = used || r[c] != ""
		}
		if used {
			keep = append(keep, c)
		}
	}
	tw := tabwriter.NewWriter(b, 0, 8, 3, ' ', 0)
	line := func(cells []string) {
		out := make([]string, len(keep))
		for i, c := range keep {
			out[i] = cells[c]
		}
		fmt.Fprintln(tw, strings.Join(out, "\t"))
	}
	titles := make([]string, len(columns))
	for i, c := range columns {
		titles[i] = c.title
	}
	line(titles)
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, s := range r {
			cells[i] = cell(s)
		}
		line(cells)
	}
	tw.Flush()
}

// cell keeps a value on its line and its column.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// writeFields shows an output that has no view as "Name  value" lines,
// nested members named by their path; a lone wrapping member (AccessKey in
// {"AccessKey": {...}}) is unwrapped.
func writeFields(b *bytes.Buffer, res any) {
	t, ok := tree(reflect.ValueOf(res))
	if !ok {
		return
	}
	if o, ok := t.(object); ok && len(o) == 1 {
		if inner, ok := o[0].value.(object); ok {
			t = inner
		}
	}
	tw := tabwriter.NewWriter(b, 0, 8, 3, ' ', 0)
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case object:
			for _, m := range x {
				name := m.name
				if prefix != "" {
					name = prefix + "." + m.name
				}
				walk(name, m.value)
			}
		case []any:
			if allScalar(x) {
				words := make([]string, len(x))
				for i, e := range x {
					words[i] = textScalar(e)
				}
				fmt.Fprintf(tw, "%s\t%s\n", prefix, cell(strings.Join(words, ", ")))
				return
			}
			for i, e := range x {
				walk(prefix+"["+strconv.Itoa(i)+"]", e)
			}
		default:
			fmt.Fprintf(tw, "%s\t%s\n", prefix, cell(textScalar(x)))
		}
	}
	walk("", t)
	tw.Flush()
}

func allScalar(list []any) bool {
	for _, e := range list {
		if !isScalar(e) {
			return false
		}
	}
	return true
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func num(n *int32) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(int(*n))
}

func date(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
