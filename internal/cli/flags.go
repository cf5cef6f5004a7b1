package cli

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
)

// A flagDef is one option a command accepts.
type flagDef struct {
	name      string // without the leading dashes
	arg       string // placeholder shown in help; "" for a switch
	list      bool   // takes one or more words
	negatable bool   // a switch that also has a --no- form
	required  bool
	hidden    bool // accepted but not listed
	usage     string
	set       func(words []string) error
}

// usageError is a mistake on the command line: exit code 2, as opposed to
// 1 for a failure reported by the server.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}

// errHelp is returned by parseFlags when --help or -h was given.
var errHelp = errors.New("help requested")

// memberFlags derives the options of an operation from the fields of its
// SDK input structure, which in is a pointer to; parsing fills the fields.
func memberFlags(in any) []*flagDef {
	v := reflect.ValueOf(in).Elem()
	t := v.Type()
	var defs []*flagDef
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Anonymous {
			continue
		}
		fv := v.Field(i)
		d := &flagDef{name: flagName(f.Name), set: func(words []string) error { return setMember(fv, words) }}
		switch ft := f.Type; {
		case ft.Kind() == reflect.Bool || (ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Bool):
			d.negatable = true
		case ft.Kind() == reflect.Slice:
			d.list = true
			d.arg = typeHint(ft.Elem())
			if ft.Elem().Kind() == reflect.Struct {
				d.arg = structHint(ft.Elem())
			}
			d.arg = "<" + d.arg + "> ..."
		default:
			d.arg = "<" + typeHint(ft) + ">"
		}
		defs = append(defs, d)
	}
	return defs
}

// parseFlags reads "--name value", "--name=value", "--name v1 v2" for
// lists, "--switch" and "--no-switch", calling each option's set.
func parseFlags(args []string, defs []*flagDef) error {
	byName := map[string]*flagDef{}
	negated := map[string]*flagDef{}
	for _, d := range defs {
		byName[d.name] = d
		if d.negatable {
			negated["no-"+d.name] = d
		}
	}
	seen := map[*flagDef]bool{}
	for i := 0; i < len(args); {
		a := args[i]
		if a == "-h" || a == "--help" {
			return errHelp
		}
		if !strings.HasPrefix(a, "--") || a == "--" {
			return usagef("unexpected argument %q (options start with --)", a)
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		d, word := byName[name], "true"
		if d == nil {
			if d = negated[name]; d != nil {
				word = "false"
			}
		}
		if d == nil {
			return usagef("unknown option --%s%s", name, suggest(name, defs))
		}
		if seen[d] {
			return usagef("option --%s is given twice", d.name)
		}
		seen[d] = true
		i++
		var words []string
		switch {
		case d.arg == "":
			if hasVal {
				return usagef("option --%s takes no value", name)
			}
			words = []string{word}
		case hasVal:
			words = []string{val}
		default:
			for i < len(args) && !strings.HasPrefix(args[i], "--") {
				words = append(words, args[i])
				i++
				if !d.list {
					break
				}
			}
			if len(words) == 0 {
				return usagef("option --%s needs a value", d.name)
			}
		}
		if err := d.set(words); err != nil {
			return usagef("--%s: %v", d.name, err)
		}
	}
	for _, d := range defs {
		if d.required && !seen[d] {
			return usagef("missing required option --%s", d.name)
		}
	}
	return nil
}

// suggest names the closest known option, for typos.
func suggest(name string, defs []*flagDef) string {
	best, bestDist := "", 4
	for _, d := range defs {
		if d.hidden {
			continue
		}
		if dist := editDistance(name, d.name); dist < bestDist {
			best, bestDist = d.name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean --%s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// writeFlags lists options for help, one a line.
func writeFlags(w io.Writer, defs []*flagDef) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, d := range defs {
		if d.hidden {
			continue
		}
		form := "--" + d.name
		switch {
		case d.negatable:
			form += " | --no-" + d.name
		case d.arg != "":
			form += " " + d.arg
		}
		if d.required {
			form += "  (required)"
		}
		if d.usage == "" {
			// No tab: a long shorthand hint must not widen the column of
			// the options that have a description.
			fmt.Fprintf(tw, "  %s\n", form)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", form, d.usage)
	}
	tw.Flush()
}
