package process

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// nodeDecoder is implemented by definition types that read themselves from a YAML scalar
// (durations, for example). The returned error becomes a problem at the node's position.
type nodeDecoder interface {
	decodeNode(n *yaml.Node) error
}

// decoder turns a YAML node tree into definition structs, strictly: unknown fields, wrong types and
// missing required fields become problems with their file, line and column. It never stops at the
// first problem, so a designer sees every mistake of a file at once.
type decoder struct {
	file     string
	problems Problems
	source   sourceMap
	// depth and aliases bound the work a hostile file can ask for (a self-referencing alias, a
	// "billion laughs" of nested aliases).
	depth, aliases int
}

const (
	maxDepth   = 64
	maxAliases = 1000
)

func newDecoder(file string) *decoder {
	return &decoder{file: file, source: sourceMap{}}
}

func (d *decoder) pos(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Column: n.Column}
}

func (d *decoder) addf(n *yaml.Node, format string, args ...any) {
	d.problems = append(d.problems, Problem{Position: d.pos(n), Message: fmt.Sprintf(format, args...)})
}

// decode fills v (addressable) from n; path names the value in messages and the source map.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		d.addf(n, "%s: the definition is nested too deeply", describe(path))
		return
	}
	for n.Kind == yaml.AliasNode {
		d.aliases++
		if d.aliases > maxAliases || n.Alias == nil {
			d.addf(n, "%s: too many aliases (*name); write the values out", describe(path))
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		d.decode(n.Content[0], v, path)
		return
	}
	d.source[path] = d.pos(n)
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			if n.Kind != yaml.ScalarNode {
				d.addf(n, "%s: expected a single value, got %s", describe(path), kindName(n))
				return
			}
			if err := nd.decodeNode(n); err != nil {
				d.addf(n, "%s: %v", describe(path), err)
			}
			return
		}
	}
	if isNull(n) && v.Kind() != reflect.Interface {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.addf(n, "%s: expected a list, got %s", describe(path), kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.addf(n, "%s: expected text, got %s", describe(path), kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || err != nil {
			d.addf(n, "%s: expected true or false, got %s", describe(path), kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil {
			d.addf(n, "%s: expected a whole number, got %s", describe(path), kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || err != nil {
			d.addf(n, "%s: expected a number, got %s", describe(path), kindName(n))
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.addf(n, "%s: %v", describe(path), err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		panic(fmt.Sprintf("process: cannot decode YAML into %s", v.Type()))
	}
}

// yamlField is one struct field as the YAML sees it.
type yamlField struct {
	name     string
	index    []int // for reflect.Value.FieldByIndex: fields of ",inline" structs are reached through them
	required bool
}

// yamlFields lists the fields of a struct type, with the fields of ",inline" embedded structs in
// their place.
func yamlFields(t reflect.Type) []yamlField {
	var fields []yamlField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			for _, inner := range yamlFields(f.Type) {
				inner.index = append([]int{i}, inner.index...)
				fields = append(fields, inner)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name[:1]) + f.Name[1:]
		}
		fields = append(fields, yamlField{name: name, index: []int{i}, required: strings.Contains(opts, "required")})
	}
	return fields
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, "%s: expected a mapping of fields, got %s", describe(path), kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if seen[key.Value] {
			d.addf(key, "%s: field %q is given twice", describe(path), key.Value)
			continue
		}
		seen[key.Value] = true
		d.source[join(path, key.Value)+keySuffix] = d.pos(key)
		var index []int
		for _, f := range fields {
			if f.name == key.Value {
				index = f.index
			}
		}
		if index == nil {
			d.addf(key, "%s: unknown field %q%s", describe(path), key.Value, suggest(key.Value, names))
			continue
		}
		d.decode(val, v.FieldByIndex(index), join(path, key.Value))
	}
	for _, f := range fields {
		if f.required && !seen[f.name] {
			d.addf(n, "%s: missing required field %q", describe(path), f.name)
		}
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, "%s: expected a mapping, got %s", describe(path), kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		panic("process: YAML maps need string keys")
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		k := reflect.New(v.Type().Key()).Elem()
		k.SetString(key.Value)
		if m.MapIndex(k).IsValid() {
			d.addf(key, "%s: key %q is given twice", describe(path), key.Value)
			continue
		}
		d.source[join(path, key.Value)+keySuffix] = d.pos(key)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, join(path, key.Value))
		m.SetMapIndex(k, elem)
	}
	v.Set(m)
}

// keySuffix marks, in the source map, the position of a mapping key rather than of its value.
const keySuffix = "#key"

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// describe names a path for a message: the top level is "definition".
func describe(path string) string {
	if path == "" {
		return "definition"
	}
	return path
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "an unexpected node"
}

// sortedKeys returns the keys of m in order, so validation reports problems deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// reflectTypeOf is the reflect.Type of T.
func reflectTypeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
