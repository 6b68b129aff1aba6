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

// Catalog is every definition of a folder, validated and hashed.
type Catalog struct {
	queues map[string]*Queue
	// sources keeps the YAML text of each definition by key, for the definitions table.
	sources map[string]Source
}

// Source is the text a definition was loaded from.
type Source struct {
	File string
	Kind Kind
	Key  string
	Text string
}

// Queue returns the queue with the given key.
func (c *Catalog) Queue(key string) (*Queue, bool) {
	q, ok := c.queues[key]
	return q, ok
}

// Queues returns every queue, sorted by key.
func (c *Catalog) Queues() []*Queue {
	out := make([]*Queue, 0, len(c.queues))
	for _, k := range sortedKeys(c.queues) {
		out = append(out, c.queues[k])
	}
	return out
}

// Source returns the YAML text of the definition with the given key.
func (c *Catalog) Source(key string) (Source, bool) {
	s, ok := c.sources[key]
	return s, ok
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

// Load validates definitions given as file name → YAML text.
func Load(files map[string][]byte) (*Catalog, error) {
	c := &Catalog{queues: map[string]*Queue{}, sources: map[string]Source{}}
	var problems Problems
	keyFile := map[string]string{}
	for _, name := range sortedKeys(files) {
		def, kind, key, ps := loadFile(name, files[name])
		problems = append(problems, ps...)
		if def == nil {
			continue
		}
		if prev, dup := keyFile[key]; dup {
			problems = append(problems, Problem{
				Position: Position{File: name, Line: 1, Column: 1},
				Message:  fmt.Sprintf("key %q is already defined in %s", key, prev),
			})
			continue
		}
		keyFile[key] = name
		c.sources[key] = Source{File: name, Kind: kind, Key: key, Text: string(files[name])}
		if q, ok := def.(*Queue); ok {
			c.queues[key] = q
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// loadFile decodes and validates one file. def is nil when the file has problems.
func loadFile(name string, data []byte) (def any, kind Kind, key string, problems Problems) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, "", "", Problems{syntaxProblem(name, err)}
	}
	if len(root.Content) == 0 {
		return nil, "", "", Problems{{Position: Position{File: name, Line: 1, Column: 1}, Message: "the file is empty"}}
	}
	doc := root.Content[0]
	var head struct {
		Kind Kind `yaml:"kind"`
	}
	_ = doc.Decode(&head)
	switch head.Kind {
	case KindServiceRequestQueue:
		q := &Queue{}
		d := newDecoder(name)
		d.decode(&root, reflect.ValueOf(q).Elem(), "")
		if len(d.problems) > 0 {
			return nil, "", "", d.problems
		}
		q.applyDefaults()
		if ps := q.validate(d.source); len(ps) > 0 {
			return nil, "", "", ps
		}
		q.Version = hashOf(q)
		return q, head.Kind, q.Key, nil
	case KindWorkOrderType:
		return nil, "", "", Problems{{Position: Position{File: name, Line: doc.Line, Column: doc.Column},
			Message: "kind WorkOrderType is not supported by this version yet"}}
	default:
		pos := Position{File: name, Line: doc.Line, Column: doc.Column}
		for i := 0; i+1 < len(doc.Content); i += 2 {
			if doc.Content[i].Value == "kind" {
				v := doc.Content[i+1]
				pos = Position{File: name, Line: v.Line, Column: v.Column}
			}
		}
		kinds := []string{string(KindServiceRequestQueue), string(KindWorkOrderType)}
		msg := "missing field \"kind\": say ServiceRequestQueue or WorkOrderType"
		if head.Kind != "" {
			msg = fmt.Sprintf("unknown kind %q%s", head.Kind, suggest(string(head.Kind), kinds))
		}
		return nil, "", "", Problems{{Position: pos, Message: msg}}
	}
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
