package cli

import (
	"fmt"
	"strings"
	"unicode"
)

// parseShorthand parses the AWS CLI's shorthand syntax, such as
// "Name=engine,Values=postgres,mysql" or "Key=a,Value=b". It follows the
// grammar of awscli/shorthand.py so that what works with `aws rds` works
// here:
//
//	parameter     = keyval *("," keyval)
//	keyval        = key "=" [values]
//	values        = csv-value / explicit-list / hash-literal
//	csv-value     = first-value *("," second-value)   ; a=b,c → {a: [b, c]}
//	explicit-list = "[" [value *("," value)] "]"
//	hash-literal  = "{" keyval *("," keyval) "}"
//
// The result holds strings, []any and map[string]any; the types of the
// target struct decide later how a string is read (see assign).
func parseShorthand(s string) (map[string]any, error) {
	p := &shorthandParser{in: []rune(s)}
	return p.parameter()
}

type shorthandParser struct {
	in []rune
	i  int
}

// errSyntax is a position-aware parse failure; csv-value backtracks on it.
type errSyntax struct {
	input    string
	expected string
	pos      int
}

func (e *errSyntax) Error() string {
	got := "end of input"
	if in := []rune(e.input); e.pos < len(in) {
		got = fmt.Sprintf("%q", in[e.pos])
	}
	return fmt.Sprintf("expected %s but found %s at position %d of %q", e.expected, got, e.pos, e.input)
}

func (p *shorthandParser) parameter() (map[string]any, error) {
	params := map[string]any{}
	for first := true; first || !p.eof(); first = false {
		if !first {
			if err := p.expect(',', true); err != nil {
				return nil, err
			}
		}
		key, val, err := p.keyval()
		if err != nil {
			return nil, err
		}
		if _, dup := params[key]; dup {
			return nil, fmt.Errorf("key %q appears twice in %q; separate list items with a space, not a comma", key, string(p.in))
		}
		params[key] = val
	}
	return params, nil
}

func (p *shorthandParser) keyval() (string, any, error) {
	key := p.key()
	if err := p.expect('=', true); err != nil {
		return "", nil, err
	}
	val, err := p.values()
	return key, val, err
}

func (p *shorthandParser) key() string {
	start := p.i
	for !p.eof() && isKeyChar(p.in[p.i]) {
		p.i++
	}
	return string(p.in[start:p.i])
}

func isKeyChar(r rune) bool {
	return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.#/:", r))
}

func (p *shorthandParser) values() (any, error) {
	switch {
	case p.eof():
		return "", nil
	case p.in[p.i] == '[':
		return p.explicitList()
	case p.in[p.i] == '{':
		return p.hashLiteral()
	}
	return p.csvValue()
}

func (p *shorthandParser) csvValue() (any, error) {
	first, err := p.firstValue()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.eof() || p.in[p.i] != ',' {
		return first, nil
	}
	if err := p.expect(',', true); err != nil {
		return nil, err
	}
	list := []any{first}
	for {
		v, err := p.secondValue()
		if err == nil {
			p.skipSpace()
			if p.eof() {
				list = append(list, v)
				break
			}
			err = p.expect(',', true)
			if err == nil {
				list = append(list, v)
				continue
			}
		}
		// What followed the comma was the next key ("a=b,c=d"), not a
		// list item: give the comma back to the caller.
		if p.eof() {
			return nil, err
		}
		for p.i >= 0 && p.in[p.i] != ',' {
			p.i--
		}
		break
	}
	if len(list) == 1 {
		return first, nil
	}
	return list, nil
}

func (p *shorthandParser) explicitList() ([]any, error) {
	if err := p.expect('[', true); err != nil {
		return nil, err
	}
	list := []any{}
	for !p.at(']') {
		if p.eof() {
			return nil, p.syntax("']'")
		}
		v, err := p.explicitValue()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		p.skipSpace()
		if !p.at(']') {
			if err := p.expect(',', true); err != nil {
				return nil, err
			}
		}
	}
	return list, p.expect(']', false)
}

func (p *shorthandParser) explicitValue() (any, error) {
	switch {
	case p.at('['):
		return p.explicitList()
	case p.at('{'):
		return p.hashLiteral()
	}
	return p.firstValue()
}

func (p *shorthandParser) hashLiteral() (map[string]any, error) {
	if err := p.expect('{', true); err != nil {
		return nil, err
	}
	m := map[string]any{}
	for !p.at('}') {
		if p.eof() {
			return nil, p.syntax("'}'")
		}
		key := p.key()
		if err := p.expect('=', true); err != nil {
			return nil, err
		}
		v, err := p.explicitValue()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if !p.at('}') {
			if err := p.expect(',', true); err != nil {
				return nil, err
			}
		}
		m[key] = v
	}
	return m, p.expect('}', false)
}

// firstValue may hold '=' and spaces; only a comma (unless escaped as
// "\,") ends it.
func (p *shorthandParser) firstValue() (string, error) {
	if p.at('\'') || p.at('"') {
		return p.quoted()
	}
	return p.word(isFirstFollow), nil
}

// secondValue may not hold '=', which is how "a=b,c=d" is told apart from
// "a=b,c".
func (p *shorthandParser) secondValue() (string, error) {
	if p.at('\'') || p.at('"') {
		return p.quoted()
	}
	start := p.i
	v := p.word(isSecondFollow)
	if p.i == start {
		return "", p.syntax("a value")
	}
	return v, nil
}

// word consumes a start character and then follow characters.
func (p *shorthandParser) word(follow func(rune) bool) string {
	start := p.i
	for n := 0; !p.eof(); n++ {
		if p.in[p.i] == '\\' && p.i+1 < len(p.in) && p.in[p.i+1] == ',' {
			p.i += 2
			continue
		}
		r := p.in[p.i]
		if (n == 0 && !isStartChar(r)) || (n > 0 && !follow(r)) {
			break
		}
		p.i++
	}
	v := strings.ReplaceAll(string(p.in[start:p.i]), `\,`, ",")
	return strings.TrimRightFunc(v, unicode.IsSpace)
}

func (p *shorthandParser) quoted() (string, error) {
	q := p.in[p.i]
	for j := p.i + 1; j < len(p.in); j++ {
		if p.in[j] == '\\' && j+1 < len(p.in) && p.in[j+1] == q {
			j++
			continue
		}
		if p.in[j] == q {
			v := string(p.in[p.i+1 : j])
			p.i = j + 1
			v = strings.ReplaceAll(v, `\`+string(q), string(q))
			return strings.ReplaceAll(v, `\\`, `\`), nil
		}
	}
	return "", p.syntax("a closing " + string(q))
}

func isStartChar(r rune) bool {
	return r > ' ' && !strings.ContainsRune(`"',=[{`, r)
}

func isFirstFollow(r rune) bool {
	return unicode.IsSpace(r) || (r > ' ' && !strings.ContainsRune(`"',]}`, r))
}

func isSecondFollow(r rune) bool {
	return unicode.IsSpace(r) || (r > ' ' && !strings.ContainsRune(`"',=`, r))
}

func (p *shorthandParser) expect(c rune, space bool) error {
	if space {
		p.skipSpace()
	}
	if !p.at(c) {
		return p.syntax(fmt.Sprintf("%q", c))
	}
	p.i++
	if space {
		p.skipSpace()
	}
	return nil
}

func (p *shorthandParser) syntax(expected string) error {
	return &errSyntax{input: string(p.in), expected: expected, pos: p.i}
}

func (p *shorthandParser) at(c rune) bool { return p.i < len(p.in) && p.in[p.i] == c }
func (p *shorthandParser) eof() bool      { return p.i >= len(p.in) }

func (p *shorthandParser) skipSpace() {
	for !p.eof() && unicode.IsSpace(p.in[p.i]) {
		p.i++
	}
}
