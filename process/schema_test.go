package process

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const (
	schemaFile       = "../definitions/schema/fieldflow.schema.json"
	schemaRegenerate = "go run ./cmd/fieldflow defs schema > definitions/schema/fieldflow.schema.json"
	schemaTestURL    = "https://fieldflow.invalid/fieldflow.schema.json"
)

// schemaCompile compiles the generated schema, or the part of it at pointer ("#/$defs/Duration").
func schemaCompile(t *testing.T, pointer string) *jsonschema.Schema {
	t.Helper()
	text, err := JSONSchema()
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(text))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(schemaTestURL, doc))
	s, err := c.Compile(schemaTestURL + pointer)
	require.NoError(t, err, "the generated schema does not compile")
	return s
}

// schemaYAMLToJSON turns a YAML document into the JSON value an editor checks against the schema.
// Scalars keep their YAML 1.2 types; dates and other tags stay text.
func schemaYAMLToJSON(t *testing.T, text []byte) any {
	t.Helper()
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal(text, &root))
	var convert func(n *yaml.Node) any
	convert = func(n *yaml.Node) any {
		switch n.Kind {
		case yaml.DocumentNode:
			return convert(n.Content[0])
		case yaml.AliasNode:
			return convert(n.Alias)
		case yaml.MappingNode:
			m := map[string]any{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				m[n.Content[i].Value] = convert(n.Content[i+1])
			}
			return m
		case yaml.SequenceNode:
			list := []any{}
			for _, item := range n.Content {
				list = append(list, convert(item))
			}
			return list
		}
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool", "!!int", "!!float":
			var v any
			require.NoError(t, n.Decode(&v))
			return v
		}
		return n.Value
	}
	// Through JSON text, so the validator sees what it would read from a file.
	b, err := json.Marshal(convert(&root))
	require.NoError(t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return v
}

// schemaErrorLocations lists the JSON pointers of every failure in a validation error.
func schemaErrorLocations(err error) []string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		out = append(out, "/"+strings.Join(e.InstanceLocation, "/"))
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

// schemaShippedDefinitions reads every definition file under definitions/, by path.
func schemaShippedDefinitions(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir("../definitions", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		b, err := os.ReadFile(path)
		files[path] = b
		return err
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// schemaEdit returns the definitions with one replacement in one file; old must occur there once.
func schemaEdit(t *testing.T, files map[string][]byte, file, old, replacement string) map[string][]byte {
	t.Helper()
	path := filepath.Join("../definitions", file)
	text, ok := files[path]
	require.True(t, ok, "no definition file %s", path)
	require.Equal(t, 1, strings.Count(string(text), old), "%s should contain %q once", path, old)
	out := make(map[string][]byte, len(files))
	for k, v := range files {
		out[k] = v
	}
	out[path] = []byte(strings.Replace(string(text), old, replacement, 1))
	return out
}

func TestSchemaCommittedCopyIsUpToDate(t *testing.T) {
	generated, err := JSONSchema()
	require.NoError(t, err)
	committed, err := os.ReadFile(schemaFile)
	require.NoError(t, err, "the schema is not committed; create it with: %s", schemaRegenerate)
	require.True(t, bytes.Equal(generated, committed),
		"definitions/schema/fieldflow.schema.json is out of date with the definition types; schemaRegenerate it with: %s", schemaRegenerate)
}

func TestSchemaIsDeterministic(t *testing.T) {
	first, err := JSONSchema()
	require.NoError(t, err)
	for range 3 {
		again, err := JSONSchema()
		require.NoError(t, err)
		require.Equal(t, string(first), string(again))
	}
}

// Every field and type carries a description for designers, and the tables in schema.go name only
// fields and types that exist.
func TestSchemaDescribesEveryFieldAndType(t *testing.T) {
	_, g := generateSchema()
	require.Empty(t, g.errs)
	require.Empty(t, g.undescribed, "add a description for designers to schemaDocs in process/schema.go, then: %s", schemaRegenerate)
}

func TestSchemaLeavesOutCompiledFields(t *testing.T) {
	text, err := JSONSchema()
	require.NoError(t, err)
	var schema struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(text, &schema))
	for name, def := range schema.Defs {
		for _, hidden := range []string{"version", "calendarDef", "templates", "zoneData", "Version", "ZoneData"} {
			require.NotContains(t, def.Properties, hidden, "$defs/%s", name)
		}
	}
	require.Contains(t, schema.Defs["WorkOrderType"].Properties, "nodes")
	require.Contains(t, schema.Defs["WorkOrderType"].Properties, "numbering") // inlined from Process
	require.Contains(t, schema.Defs["WorkOrderType"].Properties, "key")       // inlined from Header
}

func TestSchemaAcceptsShippedDefinitions(t *testing.T) {
	schema := schemaCompile(t, "")
	files := schemaShippedDefinitions(t)
	for _, path := range sortedKeys(files) {
		t.Run(path, func(t *testing.T) {
			require.NoError(t, schema.Validate(schemaYAMLToJSON(t, files[path])))
		})
	}
}

func TestSchemaRejectsBrokenDefinitions(t *testing.T) {
	schema := schemaCompile(t, "")
	files := schemaShippedDefinitions(t)
	for _, tc := range []struct {
		name, file, old, replacement string
		at                           string // a JSON pointer the schema reports
	}{
		{"unknown top-level field", "service-requests/billing.yaml", "title: Billing\n", "title: Billing\ntitel: Billing\n", "/"},
		{"unknown stage field", "service-requests/billing.yaml", "{id: new, title: New, state: new}", "{id: new, title: New, state: new, colour: blue}", "/stages/0"},
		{"stage state", "service-requests/billing.yaml", "title: Investigation, state: in_progress", "title: Investigation, state: in-progress", "/stages/1/state"},
		{"node type", "work-orders/repair.yaml", "type: assignment", "type: asignment", "/nodes/0/type"},
		{"assignment strategy", "work-orders/repair.yaml", "strategy: round_robin", "strategy: random", "/nodes/0/strategy"},
		{"rating scale", "work-orders/repair.yaml", "scale: five-star", "scale: 5-star", "/nodes/4/scale"},
		{"duration without a unit", "work-orders/repair.yaml", "timeout: 30bm", "timeout: 30 minutes", "/nodes/1/timeout"},
		{"business and wall-clock time mixed", "service-requests/billing.yaml", "medium: 4bh", "medium: 4bh30m", "/sla/alert/medium"},
		{"zero duration", "service-requests/billing.yaml", "timeout: 2d", "timeout: 0d", "/stages/2/approval/timeout"},
		{"missing stage state", "service-requests/billing.yaml", "{id: new, title: New, state: new}", "{id: new, title: New}", "/stages/0"},
		{"acceptance without onDecline", "work-orders/repair.yaml", "    onDecline: dispatch\n", "", "/nodes/1"},
		{"field of another node type", "work-orders/repair.yaml", "type: checklist\n", "type: checklist\n    maxOffers: 3\n", "/nodes/3"},
		{"condition without =", "work-orders/repair.yaml", `when: "= rating.lowest != nil && rating.lowest <= 2"`, `when: "rating.lowest != nil"`, "/nodes/5/when"},
		{"opening hours", "calendars/office.yaml", `monday: ["09:00-17:00"]`, `monday: ["9-17"]`, "/hours/monday/0"},
		{"calendar without time zone", "calendars/office.yaml", "timeZone: Europe/Nicosia\n", "", "/"},
		{"holiday date", "calendars/office.yaml", "date: 2026-12-24", "date: 24.12.2026", "/holidays/0/date"},
		{"choice question without options", "templates/repair-survey.yaml", `type: choice, options: ["yes", "partly", "no"]`, "type: choice", "/questions/1"},
		{"key", "service-requests/billing.yaml", "key: billing", "key: Billing", "/key"},
		{"kind", "service-requests/billing.yaml", "kind: ServiceRequestQueue", "kind: ServiceQueue", "/kind"},
		{"approval onTimeout", "service-requests/billing.yaml", "onTimeout: reject", "onTimeout: escalate", "/stages/2/approval/onTimeout"},
		{"approval on a work-order stage", "work-orders/repair.yaml", "{id: service, title: On site, state: in_progress}",
			"{id: service, title: On site, state: in_progress, approval: {approvers: [{role: supervisor}], timeout: 1d, onTimeout: reject}}", "/stages/2"},
		{"recipient", "service-requests/billing.yaml", "to: [owner, team]", "to: [owner, everyone]", "/sla/onAlert/0/notify/to/1"},
		{"automation event", "service-requests/billing.yaml", "  - on: closed", "  - on: close", "/automations/0/on"},
		{"two actions in one", "service-requests/billing.yaml", "do: [{notify: {template: sr-closed, to: [contact], channels: [email]}}]",
			`do: [{notify: {template: sr-closed, to: [contact]}, webhook: {url: "https://crm.example/hook"}}]`, "/automations/0/do/0"},
		{"intake channel", "work-orders/repair.yaml", "intake: [agent, ", "intake: [fax, agent, ", "/intake/0"},
		{"rating without autoComplete", "work-orders/repair.yaml", "    autoComplete: 3d\n", "", "/nodes/4"},
		{"assignment rule without group or engineer", "work-orders/repair.yaml", `{when: '= order.device.category == "hvac"', group: hvac}`,
			`{when: '= order.device.category == "hvac"'}`, "/nodes/0/rules/0"},
		{"approver of two kinds", "service-requests/billing.yaml", "{role: supervisor}", "{role: supervisor, user: ana}", "/stages/2/approval/approvers/0"},
		{"empty escalation", "work-orders/repair.yaml", "onExhausted: {escalate: dispatcher}", "onExhausted: {}", "/nodes/1/onExhausted"},
		{"decision without default", "work-orders/installation.yaml", "    default: dispatch\n", "", "/nodes/0"},
		{"calendar never open", "calendars/office.yaml", "hours:\n" + `  monday: ["09:00-17:00"]
  tuesday: ["09:00-17:00"]
  wednesday: ["09:00-17:00"]
  thursday: ["09:00-17:00"]
  friday: ["09:00-17:00"]
`, "hours: {}\n", "/hours"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broken := schemaEdit(t, files, tc.file, tc.old, tc.replacement)
			path := filepath.Join("../definitions", tc.file)
			err := schema.Validate(schemaYAMLToJSON(t, broken[path]))
			require.Error(t, err, "the schema accepts the broken definition")
			require.Contains(t, schemaErrorLocations(err), tc.at, "%v", err)
			_, err = Load(broken)
			require.Error(t, err, "the loader accepts what the schema refuses")
		})
	}
}

// The words the loader checks with lists local to its functions are the schema's words.
func TestSchemaWordsAgreeWithLoader(t *testing.T) {
	schema := schemaCompile(t, "")
	files := schemaShippedDefinitions(t)
	type change struct{ file, old, replacement string }
	var accepted []change
	for _, s := range schemaAssignmentStrategies {
		accepted = append(accepted, change{"work-orders/repair.yaml", "strategy: round_robin", "strategy: " + s})
	}
	for _, s := range schemaRatingScales {
		accepted = append(accepted, change{"work-orders/repair.yaml", "scale: five-star", "scale: " + s})
	}
	for _, p := range schemaAssignmentPaths {
		accepted = append(accepted, change{"work-orders/repair.yaml", "path: [rules]", "path: [" + strings.Join(p, ", ") + "]"})
	}
	for _, q := range schemaQuestionTypes {
		options := ""
		if q == "choice" {
			options = ", options: [a, b]"
		}
		accepted = append(accepted, change{"templates/repair-survey.yaml", "type: text}", "type: " + q + options + "}"})
	}
	for _, o := range schemaApprovalTimeouts {
		accepted = append(accepted, change{"service-requests/billing.yaml", "onTimeout: reject", "onTimeout: " + o})
	}
	for _, c := range accepted {
		t.Run(c.replacement, func(t *testing.T) {
			changed := schemaEdit(t, files, c.file, c.old, c.replacement)
			_, err := Load(changed)
			require.NoError(t, err)
			require.NoError(t, schema.Validate(schemaYAMLToJSON(t, changed[filepath.Join("../definitions", c.file)])))
		})
	}
	for _, c := range []change{
		{"work-orders/repair.yaml", "strategy: round_robin", "strategy: round-robin"},
		{"work-orders/repair.yaml", "scale: five-star", "scale: ten-star"},
		{"work-orders/repair.yaml", "path: [rules]", "path: [group, engineer]"},
		{"templates/repair-survey.yaml", "type: text}", "type: essay}"},
		{"service-requests/billing.yaml", "onTimeout: reject", "onTimeout: approved"},
	} {
		t.Run(c.replacement, func(t *testing.T) {
			changed := schemaEdit(t, files, c.file, c.old, c.replacement)
			_, err := Load(changed)
			require.Error(t, err)
			require.Error(t, schema.Validate(schemaYAMLToJSON(t, changed[filepath.Join("../definitions", c.file)])))
		})
	}
}

// The alternatives the rules between fields allow are accepted by both.
func TestSchemaAcceptsTheAlternativesTheLoaderAccepts(t *testing.T) {
	schema := schemaCompile(t, "")
	files := schemaShippedDefinitions(t)
	for _, tc := range []struct{ name, file, old, replacement string }{
		{"mandatory rating without autoComplete", "work-orders/repair.yaml", "    mandatory: false\n    multiple: true\n    autoComplete: 3d\n", "    mandatory: true\n    multiple: true\n"},
		{"follow-up by rules", "work-orders/repair.yaml", "agents: {roundRobin: {group: customer-care}}", `rules: [{when: "= true", group: customer-care}]`},
		{"approver with contact: false", "service-requests/billing.yaml", "{role: supervisor}", "{role: supervisor, contact: false}"},
		{"escalation to a node", "work-orders/repair.yaml", "onExhausted: {escalate: dispatcher}", "onExhausted: {next: dispatch}"},
		{"assignment rule with an engineer", "work-orders/repair.yaml", `{when: '= order.device.category == "hvac"', group: hvac}`, `{when: '= order.device.category == "hvac"', engineer: ana}`},
		{"quorum", "service-requests/billing.yaml", "mode: any", "mode: quorum:2"},
		{"business hours", "work-orders/repair.yaml", "timeout: 30bm", "timeout: 1bh30bm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := schemaEdit(t, files, tc.file, tc.old, tc.replacement)
			_, err := Load(changed)
			require.NoError(t, err)
			require.NoError(t, schema.Validate(schemaYAMLToJSON(t, changed[filepath.Join("../definitions", tc.file)])))
		})
	}
}

// The decoder reads any YAML scalar into a text field, so the schema takes numbers and booleans as
// text where the loader does, and refuses lists and mappings as the loader does.
func TestSchemaTakesScalarsAsTextLikeTheLoader(t *testing.T) {
	schema := schemaCompile(t, "")
	files := schemaShippedDefinitions(t)
	for _, tc := range []struct {
		file, old, replacement string
		ok                     bool
	}{
		{"service-requests/billing.yaml", "title: Billing\n", "title: 2024\n", true},
		{"templates/repair-survey.yaml", `options: ["yes", "partly", "no"]`, "options: [1, 2, 3]", true},
		{"calendars/office.yaml", "name: Christmas Eve", "name: true", true},
		{"service-requests/billing.yaml", "title: Billing\n", "title: [Billing]\n", false},
		{"calendars/office.yaml", "name: Christmas Eve", "name: {en: Christmas Eve}", false},
	} {
		t.Run(tc.replacement, func(t *testing.T) {
			changed := schemaEdit(t, files, tc.file, tc.old, tc.replacement)
			_, loadErr := Load(changed)
			schemaErr := schema.Validate(schemaYAMLToJSON(t, changed[filepath.Join("../definitions", tc.file)]))
			if tc.ok {
				require.NoError(t, loadErr)
				require.NoError(t, schemaErr)
			} else {
				require.Error(t, loadErr)
				require.Error(t, schemaErr)
			}
		})
	}
}

// schemaAgree checks a schema against a parser on a corpus: the schema accepts everything the parser
// accepts, and refuses what the parser refuses unless lenient says the schema may let it through
// (the loader reports it then).
func schemaAgree(t *testing.T, schema *jsonschema.Schema, corpus []string, parse func(string) error, lenient func(string, error) bool) {
	t.Helper()
	for _, s := range corpus {
		parseErr := parse(s)
		schemaErr := schema.Validate(s)
		if parseErr == nil {
			require.NoError(t, schemaErr, "the parser accepts %q but the schema does not", s)
		} else if schemaErr == nil {
			require.True(t, lenient != nil && lenient(s, parseErr), "the schema accepts %q but the parser says: %v", s, parseErr)
		}
	}
}

// schemaRandomStrings makes n strings of up to maxLen characters from alphabet, the same ones every run.
func schemaRandomStrings(n, maxLen int, alphabet string) []string {
	r := rand.New(rand.NewPCG(1, 2))
	letters := []rune(alphabet)
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range 1 + r.IntN(maxLen) {
			b.WriteRune(letters[r.IntN(len(letters))])
		}
		out[i] = b.String()
	}
	return out
}

func TestSchemaDurationPatternAgreesWithParseDuration(t *testing.T) {
	schema := schemaCompile(t, "#/$defs/Duration")
	corpus := []string{"", " ", "30", "h", "1 h", "-1h", "+1h", "1hh", "1x", "1.2.3h", "1H", "1e3s", " 8bh ",
		"1h30m", "1bh30bm", "1h30bm", "8bh30m", "1.5h", ".5h", "5.h", "0s", "0.0s", "00h", "0.0000000001ns",
		"1.5bm", "99999999999999999999h", "2w", "3d", "1µs", "1μs", "1us", "1ns", "1ms", "1ms1s"}
	for unit := range durationUnits {
		for _, n := range []string{"1", "1.5", ".5", "0", "5.", "10"} {
			corpus = append(corpus, n+unit, n+unit+"1"+unit)
		}
	}
	corpus = append(corpus, schemaRandomStrings(20000, 8, "0123456789.hmsdwbnuµ -")...)
	schemaAgree(t, schema, corpus, func(s string) error { _, err := ParseDuration(s); return err },
		func(_ string, err error) bool {
			msg := err.Error()
			// Rounded to zero, business time in fractions of a minute, or too long: left to the loader.
			return strings.Contains(msg, "is zero") || strings.Contains(msg, "whole number of minutes") || strings.Contains(msg, "too long")
		})
}

func TestSchemaTimeSpanPatternAgreesWithParser(t *testing.T) {
	schema := schemaCompile(t, "#/$defs/TimeSpan")
	corpus := []string{"09:00-17:00", "9:00-17:00", "00:00-24:00", "24:00-24:00", "08:30 - 12:30", " 09:00-17:00 ",
		"9-17", "09:00-17:60", "25:00-26:00", "09:0-17:00", "009:00-17:00", "09:00-24:01", "09:00-17:00-18:00",
		"+9:00-17:00", "17:00-09:00", ""}
	corpus = append(corpus, schemaRandomStrings(20000, 12, "0123456789:- ")...)
	schemaAgree(t, schema, corpus, func(s string) error { _, err := parseTimeSpan(s); return err }, nil)
}

func TestSchemaExprPatternAgreesWithDecoder(t *testing.T) {
	schema := schemaCompile(t, "#/$defs/Expr")
	schemaAgree(t, schema, []string{"= true", "=x", " = x", "x", "", "x = y", "\t=1", "==", "true"},
		func(s string) error {
			var e Expr
			return e.decodeNode(&yaml.Node{Kind: yaml.ScalarNode, Value: s})
		}, nil)
}

func TestSchemaApprovalModeAgreesWithValidation(t *testing.T) {
	schema := schemaCompile(t, "#/$defs/ApprovalMode")
	corpus := []string{"any", "all", "quorum:1", "quorum:2", "quorum:+2", "quorum:02", "quorum:0", "quorum:-1",
		"quorum:", "quorum: 2", "quorum:2x", "Any", "some", "quorum2"}
	corpus = append(corpus, schemaRandomStrings(5000, 10, "quorm:0123+-anyl")...)
	schemaAgree(t, schema, slices.DeleteFunc(corpus, func(s string) bool { return s == "" }), // empty is left out
		func(s string) error {
			if !ApprovalMode(s).valid() {
				return errors.New("invalid")
			}
			return nil
		}, nil)
}

func TestSchemaNumberingPatternAgreesWithParseNumbering(t *testing.T) {
	schema := schemaCompile(t, "#/$defs/ServiceRequestQueue/properties/numbering")
	corpus := []string{DefaultNumbering, DefaultWorkOrderNumbering, "{seq}", "{seq:1}", "{seq:18}", "{seq:19}",
		"{seq:0}", "{seq:06}", "{seq:+6}", "{seq:}", "{yy}{mm}{dd}-{seq:4}", "{seq}{seq}", "SR-{yyyy}", "SR-{yyy}-{seq}",
		"SR-{yyyy-{seq}", "}{seq}{", "A}{seq}", "{seq:6}}", "{SEQ}", "{ seq }"}
	corpus = append(corpus, schemaRandomStrings(20000, 10, "{}seqymd:0189-")...)
	schemaAgree(t, schema, corpus, func(s string) error { _, err := ParseNumbering(s); return err },
		func(s string, _ error) bool { return s == "" }) // empty: the default scheme applies
}

func TestSchemaHolidayDatePatternAgreesWithParser(t *testing.T) {
	schema := schemaCompile(t, "#/$defs/Holiday/properties/date")
	schemaAgree(t, schema, []string{"2026-12-25", "2027-01-01", "2028-02-29", "2026-02-30", "2026-13-01", "2026-00-10",
		"2026-1-1", "26-12-25", "2026/12/25", "2026-12-25T00:00", "", "24.12.2026"},
		func(s string) error {
			if _, ok := parseHolidayDate(s); !ok {
				return errors.New("not a date")
			}
			return nil
		},
		func(s string, _ error) bool { return s == "2026-02-30" }) // a day the month does not have
}

func TestSchemaTimeZonesMatchTheDatabase(t *testing.T) {
	schema := schemaCompile(t, "#/$defs/Calendar/properties/timeZone")
	names := tzNames()
	require.NotEmpty(t, names)
	for _, name := range names {
		require.NoError(t, schema.Validate(name))
	}
	require.Error(t, schema.Validate("Europe Nicosia"))
	for _, name := range schemaTimeZoneExamples {
		require.Contains(t, names, name)
	}
}

func TestSchemaRecipientsAgreeWithValidation(t *testing.T) {
	schema := schemaCompile(t, "#/$defs/NotifyAction/properties/to/items")
	files := schemaShippedDefinitions(t)
	corpus := append(slices.Clone(recipientWords), "user:ana", "role:supervisor", "group:billing-desk", "user:", "users:ana",
		"everyone", "Owner", "owner:x", "role:a:b", "")
	for _, r := range corpus {
		changed := schemaEdit(t, files, "service-requests/billing.yaml", "to: [owner, team]", "to: [owner, "+strconv.Quote(r)+"]")
		_, loadErr := Load(changed)
		if loadErr == nil {
			require.NoError(t, schema.Validate(r), "the loader accepts recipient %q", r)
		} else {
			require.Error(t, schema.Validate(r), "the loader refuses recipient %q: %v", r, loadErr)
		}
	}
}
