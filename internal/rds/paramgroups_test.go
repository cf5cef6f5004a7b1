package rds

import (
	"errors"
	"testing"

	"github.com/tealdb/teal/internal/engine"
)

func TestValidParamValue(t *testing.T) {
	// Bounds as the engines report them: PostgreSQL's work_mem in kB,
	// MariaDB's max_binlog_size as an unsigned 64-bit number.
	workMem := engine.ParamInfo{Name: "work_mem", Type: engine.TypeInteger, Min: "64", Max: "2147483647"}
	timeout := engine.ParamInfo{Name: "statement_timeout", Type: engine.TypeInteger, Min: "0", Max: "2147483647"}
	logMin := engine.ParamInfo{Name: "log_min_duration_statement", Type: engine.TypeInteger, Min: "-1", Max: "2147483647"}
	unbounded := engine.ParamInfo{Name: "some_int", Type: engine.TypeInteger}
	binlog := engine.ParamInfo{Name: "max_binlog_size", Type: engine.TypeInteger, Min: "4096", Max: "18446744073709551615"}
	ratio := engine.ParamInfo{Name: "random_page_cost", Type: engine.TypeFloat, Min: "0", Max: "1.79769e+308"}
	fraction := engine.ParamInfo{Name: "checkpoint_completion_target", Type: engine.TypeFloat, Min: "0", Max: "1"}
	onOff := engine.ParamInfo{Name: "hot_standby_feedback", Type: engine.TypeBoolean}
	prefix := engine.ParamInfo{Name: "log_line_prefix", Type: engine.TypeString}
	format := engine.ParamInfo{Name: "binlog_format", Type: engine.TypeEnum, AllowedValues: []string{"MIXED", "STATEMENT", "ROW"}}
	level := engine.ParamInfo{Name: "wal_level", Type: engine.TypeEnum}

	for _, c := range []struct {
		engine string
		p      engine.ParamInfo
		value  string
		ok     bool
	}{
		{"postgres", workMem, "4096", true},
		{"postgres", workMem, "64", true},
		{"postgres", workMem, "2147483647", true},
		{"postgres", workMem, "63", false},
		{"postgres", workMem, "2147483648", false},
		{"postgres", workMem, "99999999999999999999", false},                    // beyond int64: was accepted
		{"postgres", workMem, "-99999999999999999999", false},                   // below int64
		{"postgres", workMem, "999999999999999999999999999999999999999", false}, // far beyond
		{"postgres", workMem, "-1", false},
		{"postgres", workMem, "64MB", true},
		{"postgres", workMem, "64 MB", true},
		{"postgres", workMem, "1GB", true},
		{"postgres", workMem, "512kB", true},
		{"postgres", workMem, "99999999999999999999GB", false},
		{"postgres", workMem, "3000000GB", false},
		{"postgres", workMem, "64mb", false}, // PostgreSQL's units are case-sensitive
		{"postgres", workMem, "64XB", false},
		{"postgres", workMem, "-64MB", false},
		{"postgres", workMem, "1.5GB", false},
		{"postgres", workMem, "0x40", false},
		{"postgres", workMem, "lots", false},
		{"postgres", workMem, "", false},
		{"postgres", workMem, "64;", false},
		{"postgres", timeout, "30s", true},
		{"postgres", timeout, "250ms", true},
		{"postgres", timeout, "5min", true},
		{"postgres", timeout, "1h", true},
		{"postgres", timeout, "1d", true},
		{"postgres", timeout, "100000000000d", false},
		{"postgres", logMin, "-1", true},
		{"postgres", logMin, "-2", false},
		{"mariadb", binlog, "1073741824", true},
		{"mariadb", binlog, "18446744073709551615", true},
		{"mariadb", binlog, "18446744073709551616", false},
		{"mariadb", binlog, "1G", false}, // SET GLOBAL takes no suffix
		{"mariadb", binlog, "64MB", false},
		{"mariadb", unbounded, "18446744073709551615", true},
		{"mariadb", unbounded, "-9223372036854775808", true},
		{"mariadb", unbounded, "18446744073709551616", false},
		{"mariadb", unbounded, "-9223372036854775809", false},
		{"postgres", ratio, "1.1", true},
		{"postgres", ratio, "4", true},
		{"postgres", ratio, "1e3", true},
		{"postgres", ratio, ".5", true},
		{"postgres", ratio, "1e999", false},
		{"postgres", ratio, "NaN", false},
		{"postgres", ratio, "Inf", false},
		{"postgres", ratio, "0x1p-2", false},
		{"postgres", ratio, "-1", false},
		{"postgres", ratio, "fast", false},
		{"postgres", fraction, "0.9", true},
		{"postgres", fraction, "1.5", false},
		{"postgres", onOff, "on", true},
		{"postgres", onOff, "0", true},
		{"postgres", onOff, "TRUE", true},
		{"postgres", onOff, "maybe", false},
		{"postgres", prefix, `%m [%p] `, true},
		{"postgres", prefix, `x\`, true},
		{"postgres", prefix, `it's`, true},
		{"postgres", prefix, `x\'`, true},
		{"postgres", prefix, "a\nshared_preload_libraries = 'x'", false},
		{"postgres", prefix, "a\rb", false},
		{"postgres", prefix, "a\x00b", false},
		{"postgres", prefix, "a\tb", false},
		{"postgres", prefix, "a\x1bb", false},
		{"postgres", prefix, "a\xffb", false},
		{"mariadb", format, "ROW", true},
		{"mariadb", format, "row; SET x", false},
		{"postgres", level, "logical", true},
		{"postgres", level, "logical'", false},
	} {
		err := validParamValue(c.engine, c.p, c.value)
		if c.ok && err != nil {
			t.Errorf("%s %s=%q refused: %v", c.engine, c.p.Name, c.value, err)
		}
		if !c.ok && !errors.Is(err, ErrInvalidParameterValue) {
			t.Errorf("%s %s=%q: %v, want InvalidParameterValue", c.engine, c.p.Name, c.value, err)
		}
	}
}
