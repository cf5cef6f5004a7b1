package postgres

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tealdb/teal/internal/engine"
	"github.com/tealdb/teal/internal/supervisor"
)

// Expressions as PostgreSQL 15 stores them (pg_attrdef.adbin,
// pg_index.indexprs), where 16387 is a user function w(text, int) and 551
// is int4 +.
const (
	// a + w('x', 1)
	constantCall = `{OPEXPR :opno 551 :opfuncid 177 :opresulttype 23 :opretset false :opcollid 0 :inputcollid 0 :args ({VAR :varno 1 :varattno 1 :vartype 23 :vartypmod -1 :varcollid 0 :varlevelsup 0 :varnosyn 1 :varattnosyn 1 :location 52} {FUNCEXPR :funcid 16387 :funcresulttype 23 :funcretset false :funcvariadic false :funcformat 0 :funccollid 0 :inputcollid 100 :args ({CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location 58 :constvalue 5 [ 20 0 0 0 120 ]} {CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location 63 :constvalue 4 [ 1 0 0 0 0 0 0 0 ]}) :location 56}) :location 54}`
	// w('y', a)
	columnCall = `{FUNCEXPR :funcid 16387 :funcresulttype 23 :funcretset false :funcvariadic false :funcformat 0 :funccollid 0 :inputcollid 100 :args ({CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location 104 :constvalue 5 [ 20 0 0 0 121 ]} {VAR :varno 1 :varattno 1 :vartype 23 :vartypmod -1 :varcollid 0 :varlevelsup 0 :varnosyn 1 :varattnosyn 1 :location 109}) :location 102}`
)

func TestNodeCalls(t *testing.T) {
	for _, c := range []struct {
		name, tree string
		want       []nodeCall
	}{
		{"constant call under a column's operator", constantCall,
			[]nodeCall{{oid: 551, op: true}, {oid: 16387, constant: true}}},
		{"call on a column", columnCall, []nodeCall{{oid: 16387}}},
		{"index expression list", "(" + constantCall + " " + columnCall + ")",
			[]nodeCall{{oid: 551, op: true}, {oid: 16387, constant: true}, {oid: 16387}}},
		{"no arguments", `{FUNCEXPR :funcid 16400 :funcresulttype 23 :args <> :location 3}`,
			[]nodeCall{{oid: 16400, constant: true}}},
		{"operator on constants", `{OPEXPR :opno 16500 :opfuncid 0 :args ({CONST :consttype 23 :constvalue 4 [ 1 0 0 0 0 0 0 0 ]} {CONST :consttype 23 :constvalue 4 [ 2 0 0 0 0 0 0 0 ]}) :location 1}`,
			[]nodeCall{{oid: 16500, op: true, constant: true}}},
		{"domain check value", `{FUNCEXPR :funcid 16401 :args ({COERCETODOMAINVALUE :typeId 23 :typeMod -1 :collation 0 :location 9}) :location 2}`,
			[]nodeCall{{oid: 16401}}},
		// An escaped brace in a name is not syntax; the call after it is
		// still found, on a column.
		{"escaped brace", `{FUNCEXPR :funcid 16402 :args ({VAR :varno 1 :name a\{b} {CONST :consttype 23}) :location 2}`,
			[]nodeCall{{oid: 16402}}},
		{"no calls", `{VAR :varno 1 :varattno 2}`, nil},
		{"empty", ``, nil},
	} {
		if got := nodeCalls(c.tree); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestSubscribeRechecksGreen: the master changed the schema after the
// deployment was created, adding a check that reaches its function through
// query_to_xml. Before green's subscription starts, teal reads green's own
// catalog again: a 15 green, which applies rows as a superuser, is refused
// and gets no subscription; the same catalog passes for a 16 green.
func TestSubscribeRechecksGreen(t *testing.T) {
	e := New(DefaultDirs("/usr/local/lib/teal/engines"))
	sup := supervisor.New(nil, func(supervisor.Event) {})
	t.Cleanup(func() { sup.Close(context.Background()) })
	green := startServer(t, e, sup, "15", "green")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec1(t, green, "app", `CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
		CREATE TABLE t (id int PRIMARY KEY CHECK (query_to_xml('SELECT public.f()', false, false, '') IS NOT NULL))`)
	err := subscribeAt(ctx, green, green, "bgd-test", "app", "0/0")
	if !errors.Is(err, engine.ErrUnsupported) || !strings.Contains(err.Error(), "schema changed") ||
		!strings.Contains(err.Error(), "query_to_xml") {
		t.Fatalf("subscribe on a green whose schema changed: %v", err)
	}
	if n := query1[int64](t, green, "app", "SELECT count(*) FROM pg_subscription"); n != 0 {
		t.Fatalf("green has %d subscriptions", n)
	}
	c := testSession(t, green, "app")
	defer c.Close(ctx)
	if err := refuseUserCode(ctx, c, "app", "16"); err != nil {
		t.Fatalf("the same catalog for a 16 green: %v", err)
	}
}
