package process

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Catalog is every definition of a folder, validated, resolved and hashed.
type Catalog struct {
	queues         map[string]*Queue
	workOrderTypes map[string]*WorkOrderType
	calendars      map[string]*Calendar
	templates      map[string]*Template
	mailboxes      map[string]*Mailbox
	sources        map[string]Source // by Kind + "/" + key
}

// Source is the text a definition was loaded from.
type Source struct {
	File    string `json:"file"`
	Kind    Kind   `json:"kind"`
	Key     string `json:"key"`
	Version string `json:"version"`
	Text    string `json:"-"`
}

// Queue returns the queue with the given key.
func (c *Catalog) Queue(key string) (*Queue, bool) {
	q, ok := c.queues[key]
	return q, ok
}

// WorkOrderType returns the work-order type with the given key.
func (c *Catalog) WorkOrderType(key string) (*WorkOrderType, bool) {
	w, ok := c.workOrderTypes[key]
	return w, ok
}

// Queues returns every queue, sorted by key.
func (c *Catalog) Queues() []*Queue {
	out := make([]*Queue, 0, len(c.queues))
	for _, k := range sortedKeys(c.queues) {
		out = append(out, c.queues[k])
	}
	return out
}

// WorkOrderTypes returns every work-order type, sorted by key.
func (c *Catalog) WorkOrderTypes() []*WorkOrderType {
	out := make([]*WorkOrderType, 0, len(c.workOrderTypes))
	for _, k := range sortedKeys(c.workOrderTypes) {
		out = append(out, c.workOrderTypes[k])
	}
	return out
}

// Source returns the text of the definition of a kind with the given key.
func (c *Catalog) Source(kind Kind, key string) (Source, bool) {
	s, ok := c.sources[string(kind)+"/"+key]
	return s, ok
}

// Sources lists every definition's source, sorted by kind and key.
func (c *Catalog) Sources() []Source {
	out := make([]Source, 0, len(c.sources))
	for _, k := range sortedKeys(c.sources) {
		out = append(out, c.sources[k])
	}
	return out
}

// Definition returns the compiled definition (a *Queue or *WorkOrderType) of a process key.
func (c *Catalog) Definition(key string) (any, bool) {
	if q, ok := c.queues[key]; ok {
		return q, true
	}
	if w, ok := c.workOrderTypes[key]; ok {
		return w, true
	}
	return nil, false
}

// LoadDir reads every *.yaml and *.yml file under dir. The error, when there is one, is Problems:
// every mistake in every file, each with file:line:column.
func LoadDir(dir string) (*Catalog, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("definitions: read %s: %w", dir, err)
	}
	sort.Strings(files)
	docs := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("definitions: %w", err)
		}
		docs[f] = b
	}
	return Load(docs)
}

// decoded is one file after decoding, before validation.
type decoded struct {
	file   string
	kind   Kind
	key    string
	value  any // *Queue, *WorkOrderType, *Calendar, *Template, *Mailbox
	source sourceMap
	text   []byte
}

// Load validates definitions given as file name → YAML text. Calendars and templates are checked
// first, then the processes that refer to them; a process's compiled form embeds the calendar and
// templates it uses, so its version changes when they do.
func Load(files map[string][]byte) (*Catalog, error) {
	c := &Catalog{
		queues: map[string]*Queue{}, workOrderTypes: map[string]*WorkOrderType{},
		calendars: map[string]*Calendar{}, templates: map[string]*Template{}, mailboxes: map[string]*Mailbox{},
		sources: map[string]Source{},
	}
	var problems Problems
	var docs []decoded
	firstFile := map[string]string{}
	for _, name := range sortedKeys(files) {
		d, ps := decodeFile(name, files[name])
		problems = append(problems, ps...)
		if d == nil {
			continue
		}
		id := string(d.kind) + "/" + d.key
		if d.kind == KindMessageTemplate || d.kind == KindRatingTemplate {
			id = "template/" + d.key
		}
		if d.kind == KindServiceRequestQueue || d.kind == KindWorkOrderType {
			id = "process/" + d.key
		}
		if prev, dup := firstFile[id]; dup {
			problems = append(problems, Problem{Position: d.source.at("key"), Message: fmt.Sprintf("key %q is already defined in %s", d.key, prev)})
			continue
		}
		firstFile[id] = name
		docs = append(docs, *d)
	}

	refs := &references{calendars: map[string]*Calendar{}, templates: map[string]*Template{}, workOrderTypes: map[string]bool{}}
	woTypes := map[string]*WorkOrderType{} // every work-order type, even a broken one, for mailboxes
	for _, d := range docs {
		ck := &checker{src: d.source, refs: refs}
		switch v := d.value.(type) {
		case *Calendar:
			ps := v.validate(d.source)
			if len(ps) == 0 {
				if err := v.compile(); err != nil {
					ps = append(ps, Problem{Position: d.source.at("timeZone"), Message: err.Error()})
				}
			}
			refs.calendars[v.Key] = v
			if len(ps) > 0 {
				problems = append(problems, ps...)
				continue
			}
			v.Version = hashOf(v)
			c.calendars[v.Key] = v
			c.addSource(d, v.Version)
		case *Template:
			ck.template(v)
			// Known even when broken, so a process that names it gets no second, misleading message.
			refs.templates[v.Key] = v
			if len(ck.problems) > 0 {
				problems = append(problems, ck.problems...)
				continue
			}
			v.Version = hashOf(v)
			refs.templates[v.Key] = v
			c.templates[v.Key] = v
			c.addSource(d, v.Version)
		case *WorkOrderType:
			refs.workOrderTypes[v.Key] = true
			woTypes[v.Key] = v
		}
	}
	for _, d := range docs {
		ck := &checker{src: d.source, refs: refs}
		switch v := d.value.(type) {
		case *Queue:
			ck.queue(v)
			if len(ck.problems) > 0 {
				problems = append(problems, ck.problems...)
				continue
			}
			resolve(&v.Process, refs, v)
			c.queues[v.Key] = v
			c.addSource(d, v.Version)
		case *WorkOrderType:
			ck.workOrderType(v)
			if len(ck.problems) > 0 {
				problems = append(problems, ck.problems...)
				continue
			}
			resolve(&v.Process, refs, v)
			c.workOrderTypes[v.Key] = v
			c.addSource(d, v.Version)
		}
	}
	addresses := mailboxAddresses{}
	for _, d := range docs {
		if v, ok := d.value.(*Mailbox); ok {
			ck := &checker{src: d.source, refs: refs}
			ck.mailbox(v, d.file, woTypes, addresses)
			if len(ck.problems) > 0 {
				problems = append(problems, ck.problems...)
				continue
			}
			v.Version = hashOf(v)
			c.mailboxes[v.Key] = v
			c.addSource(d, v.Version)
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Catalog) addSource(d decoded, version string) {
	c.sources[string(d.kind)+"/"+d.key] = Source{File: d.file, Kind: d.kind, Key: d.key, Version: version, Text: string(d.text)}
}

// resolve embeds the calendar and templates a process uses and computes its version. whole is the
// *Queue or *WorkOrderType that holds p.
func resolve(p *Process, refs *references, whole any) {
	if p.Calendar != "" {
		p.CalendarDef = refs.calendars[p.Calendar]
	}
	used := map[string]*Template{}
	collectTemplates(reflect.ValueOf(whole), refs.templates, used)
	if len(used) > 0 {
		p.Templates = used
	}
	p.Version = ""
	p.Version = hashOf(whole)
}

// collectTemplates finds every template key a definition names (fields called Template).
func collectTemplates(v reflect.Value, all, used map[string]*Template) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectTemplates(v.Elem(), all, used)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("yaml") == "-" {
				continue
			}
			if f.Name == "Template" && f.Type.Kind() == reflect.String {
				if key := v.Field(i).String(); all[key] != nil {
					used[key] = all[key]
				}
				continue
			}
			collectTemplates(v.Field(i), all, used)
		}
	case reflect.Slice:
		for i := range v.Len() {
			collectTemplates(v.Index(i), all, used)
		}
	}
}

// decodeFile decodes one file into the type its kind names. d is nil when it has problems.
func decodeFile(name string, data []byte) (d *decoded, problems Problems) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{syntaxProblem(name, err)}
	}
	if len(root.Content) == 0 {
		return nil, Problems{{Position: Position{File: name, Line: 1, Column: 1}, Message: "the file is empty"}}
	}
	doc := root.Content[0]
	var head struct {
		Kind Kind `yaml:"kind"`
	}
	_ = doc.Decode(&head)
	var value any
	numbering := ""
	switch head.Kind {
	case KindServiceRequestQueue:
		value, numbering = &Queue{}, DefaultNumbering
	case KindWorkOrderType:
		value, numbering = &WorkOrderType{}, DefaultWorkOrderNumbering
	case KindCalendar:
		value = &Calendar{}
	case KindMessageTemplate, KindRatingTemplate:
		value = &Template{}
	case KindMailbox:
		value = &Mailbox{}
	case KindScenario:
		// Simulation scripts live beside the definitions; check them, keep nothing.
		if _, err := ParseScenario(name, data); err != nil {
			var ps Problems
			if errors.As(err, &ps) {
				return nil, ps
			}
			return nil, Problems{{Position: Position{File: name, Line: 1, Column: 1}, Message: err.Error()}}
		}
		return nil, nil
	default:
		pos := Position{File: name, Line: doc.Line, Column: doc.Column}
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i].Value == "kind" {
				v := doc.Content[i+1]
				pos = Position{File: name, Line: v.Line, Column: v.Column}
			}
		}
		msg := "missing field \"kind\": say " + strings.Join(kinds, ", ")
		if head.Kind != "" {
			msg = fmt.Sprintf("unknown kind %q (use %s)%s", head.Kind, strings.Join(kinds, ", "), suggest(string(head.Kind), kinds))
		}
		return nil, Problems{{Position: pos, Message: msg}}
	}
	dec := newDecoder(name)
	dec.decode(&root, reflect.ValueOf(value).Elem(), "")
	if len(dec.problems) > 0 {
		return nil, dec.problems
	}
	var key string
	switch v := value.(type) {
	case *Queue:
		v.applyDefaults(numbering)
		key = v.Key
	case *WorkOrderType:
		v.applyDefaults(numbering)
		key = v.Key
	case *Calendar:
		key = v.Key
		if v.Title == "" {
			v.Title = v.Key
		}
	case *Template:
		key = v.Key
		if v.Title == "" {
			v.Title = v.Key
		}
	case *Mailbox:
		key = v.Key
		if v.Title == "" {
			v.Title = v.Key
		}
	}
	return &decoded{file: name, kind: head.Kind, key: key, value: value, source: dec.source, text: data}, nil
}

// syntaxProblem turns a YAML syntax error ("yaml: line 3: ...") into a positioned problem.
func syntaxProblem(name string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
			msg = strings.TrimSpace(msg[strings.IndexByte(msg, ':')+1:])
		}
	}
	return Problem{Position: Position{File: name, Line: line, Column: 1}, Message: "YAML syntax: " + msg}
}

// hashOf is the content hash of a compiled definition: the same definition always gets the same
// version, whatever its comments and layout.
func hashOf(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("process: hash definition: %v", err))
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])[:12]
}
