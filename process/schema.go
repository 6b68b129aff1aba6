package process

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// JSONSchema returns the JSON Schema (draft 2020-12) of the definition language, indented and
// ending with a newline, so editors (the YAML extension of VS Code, JetBrains IDEs) complete and
// check definition files as they are typed. `fieldflow defs schema` prints it, and
// definitions/schema/fieldflow.schema.json is a copy of it.
//
// The schema is generated from the definition types: field names, inlined structs, required
// fields and left-out fields come from the same yaml tags the decoder reads (yamlFields), the
// custom scalars (Duration, TimeSpan, Expr, ...) have patterns kept in step with their parsers by
// the tests, and the fixed words (node types, channels, roles, automation events) come from the
// lists validation uses. What a schema cannot see (references to other files, expressions that do
// not compile, unreachable nodes) is left to `fieldflow defs validate`; the schema never refuses a
// definition the loader accepts, except for a value left empty (`title:` with nothing after it).
func JSONSchema() ([]byte, error) {
	root, g := generateSchema()
	if len(g.errs) > 0 {
		return nil, fmt.Errorf("process: JSON Schema: %s", strings.Join(g.errs, "; "))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("process: JSON Schema: %w", err)
	}
	return buf.Bytes(), nil
}

// jsonSchema is a JSON Schema object, with the keywords in the order they are written.
type jsonSchema struct {
	Schema      string `json:"$schema,omitempty"`
	Comment     string `json:"$comment,omitempty"`
	Ref         string `json:"$ref,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Type is a JSON type name, or a list of them.
	Type    any    `json:"type,omitempty"`
	Const   any    `json:"const,omitempty"`
	Enum    []any  `json:"enum,omitempty"`
	Pattern string `json:"pattern,omitempty"`
	// PatternErrorMessage is not JSON Schema: VS Code and the YAML language server show it instead
	// of the pattern when a value does not match. Validators ignore it.
	PatternErrorMessage string                 `json:"patternErrorMessage,omitempty"`
	Examples            []any                  `json:"examples,omitempty"`
	Minimum             *int                   `json:"minimum,omitempty"`
	MinLength           *int                   `json:"minLength,omitempty"`
	MinItems            *int                   `json:"minItems,omitempty"`
	Items               *jsonSchema            `json:"items,omitempty"`
	MinProperties       *int                   `json:"minProperties,omitempty"`
	MaxProperties       *int                   `json:"maxProperties,omitempty"`
	Properties          schemaProperties       `json:"properties,omitempty"`
	PatternProperties   map[string]*jsonSchema `json:"patternProperties,omitempty"`
	// AdditionalProperties is false or a *jsonSchema.
	AdditionalProperties any                    `json:"additionalProperties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	AnyOf                []*jsonSchema          `json:"anyOf,omitempty"`
	OneOf                []*jsonSchema          `json:"oneOf,omitempty"`
	AllOf                []*jsonSchema          `json:"allOf,omitempty"`
	If                   *jsonSchema            `json:"if,omitempty"`
	Then                 *jsonSchema            `json:"then,omitempty"`
	Else                 *jsonSchema            `json:"else,omitempty"`
	Defs                 map[string]*jsonSchema `json:"$defs,omitempty"`
}

// schemaProperty is one entry of "properties".
type schemaProperty struct {
	name   string
	schema *jsonSchema
}

// schemaProperties keeps the properties in the order of the struct fields, so the schema reads
// like the Go types and comes out the same every time.
type schemaProperties []schemaProperty

// MarshalJSON writes the properties as an object, in order.
func (ps schemaProperties) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(p.name); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := enc.Encode(p.schema); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// prop returns the schema of a property, or nil.
func (s *jsonSchema) prop(name string) *jsonSchema {
	for _, p := range s.Properties {
		if p.name == name {
			return p.schema
		}
	}
	return nil
}

// setProp replaces the schema of a property.
func (s *jsonSchema) setProp(name string, schema *jsonSchema) {
	for i, p := range s.Properties {
		if p.name == name {
			s.Properties[i].schema = schema
			return
		}
	}
}

// keepProps drops every property, and its requirement, for which keep is false.
func (s *jsonSchema) keepProps(keep func(name string) bool) {
	s.Properties = slices.DeleteFunc(s.Properties, func(p schemaProperty) bool { return !keep(p.name) })
	s.Required = slices.DeleteFunc(s.Required, func(name string) bool { return !keep(name) })
}

// require adds required properties.
func (s *jsonSchema) require(names ...string) {
	for _, n := range names {
		if !slices.Contains(s.Required, n) {
			s.Required = append(s.Required, n)
		}
	}
}

func schemaRef(def string) *jsonSchema { return &jsonSchema{Ref: "#/$defs/" + def} }

// schemaText is free text. The decoder takes any YAML scalar as text (title: 2024, options: [1, 2]),
// so numbers and true or false are text too.
func schemaText() *jsonSchema { return &jsonSchema{Type: []string{"string", "number", "boolean"}} }

func schemaWords(words ...string) *jsonSchema {
	return &jsonSchema{Type: "string", Enum: schemaValues(words)}
}

func schemaList(items *jsonSchema) *jsonSchema { return &jsonSchema{Type: "array", Items: items} }

func schemaInt(n int) *int { return &n }

func schemaValues[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func schemaStrings[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// identifierDef names the schema of keys, ids and references to them.
const identifierDef = "Identifier"

// durationPattern is the shape of what ParseDuration reads, built from its units: a number and a
// unit, repeated, all wall-clock units or all business units. That a duration is longer than zero
// is a second pattern (some digit from 1 to 9); that a business duration is a whole number of
// minutes, and the length limit, are left to the loader.
func durationPattern() string {
	var wall, business []string
	for name, u := range durationUnits {
		if u.business {
			business = append(business, regexp.QuoteMeta(name))
		} else {
			wall = append(wall, regexp.QuoteMeta(name))
		}
	}
	longestFirst := func(units []string) string {
		sort.Slice(units, func(i, j int) bool {
			li, lj := utf8.RuneCountInString(units[i]), utf8.RuneCountInString(units[j])
			return li > lj || li == lj && units[i] < units[j]
		})
		return strings.Join(units, "|")
	}
	const number = `[0-9]*\.?[0-9]+`
	return `^\s*((` + number + `(` + longestFirst(wall) + `))+|(` + number + `(` + longestFirst(business) + `))+)\s*$`
}

// timeSpanPattern is what parseTimeSpan reads: H:MM or HH:MM, a dash, and an end that may be 24:00.
const timeSpanPattern = `^\s*([01]?[0-9]|2[0-3]):[0-5][0-9]\s*-\s*(([01]?[0-9]|2[0-3]):[0-5][0-9]|24:00)\s*$`

// exprPattern is what Expr.decodeNode reads: text starting with "=".
const exprPattern = `^\s*=`

// approvalModePattern is what ApprovalMode.valid accepts: any, all, or quorum:N (strconv.Atoi, N
// at least 1).
const approvalModePattern = `^(any|all|quorum:\+?0*[1-9][0-9]*)$`

// numberingPattern is what ParseNumbering reads: literal text and the tokens {yyyy}, {yy}, {mm},
// {dd} and exactly one {seq} or {seq:N} with N from 1 to 18. Empty means the default scheme.
const numberingPattern = `^([^{]*(\{(yyyy|yy|mm|dd)\}[^{]*)*\{seq(:\+?0*([1-9]|1[0-8]))?\}[^{]*(\{(yyyy|yy|mm|dd)\}[^{]*)*)?$`

// holidayDatePattern is YYYY-MM-DD; that the day exists in its month is left to the loader.
const holidayDatePattern = `^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`

// webhookURLPattern is an expression, or an http(s) URL with a host as checker.webhook wants it.
const webhookURLPattern = `^\s*=|^[hH][tT][tT][pP][sS]?://[^/?#]`

// recipientPattern is what checker.notify accepts: a word of recipientWords, or user:NAME,
// role:NAME, group:NAME.
func recipientPattern() string {
	words := make([]string, len(recipientWords))
	for i, w := range recipientWords {
		words[i] = regexp.QuoteMeta(w)
	}
	return `^(` + strings.Join(words, "|") + `)$|^(user|role|group):.+$`
}

// scenarioTimePattern is the beginning every layout of simulation.parseTime shares: a date, then a
// time of day to the minute.
const scenarioTimePattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}`

func scenarioTimeSchema() *jsonSchema {
	return &jsonSchema{Type: "string", Pattern: scenarioTimePattern,
		PatternErrorMessage: `write a time as "2027-03-26 16:30" (in the calendar's time zone) or in RFC 3339`,
		Examples:            []any{"2027-03-26 16:30"}}
}

// timeZonePattern is the shape of the names in the embedded zone database. The names themselves are
// left to the loader: as an enum, the 600 of them would fill every hover and error message.
const timeZonePattern = `^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$`

// schemaTimeZoneExamples are offered for completion.
var schemaTimeZoneExamples = []string{"UTC", "Europe/Nicosia", "Europe/Athens", "Europe/London", "America/New_York", "Asia/Shanghai"}

// scalarSchemas are the definitions of the types that read themselves from YAML (nodeDecoder) and
// of the named string types with fixed words. Each becomes a $defs entry named after the type.
var scalarSchemas = map[reflect.Type]func() *jsonSchema{
	reflectTypeOf[Duration](): func() *jsonSchema {
		return &jsonSchema{
			Type:                "string",
			Pattern:             durationPattern(),
			PatternErrorMessage: durationForms,
			Examples:            []any{"30m", "2d", "8bh"},
			AllOf: []*jsonSchema{{
				Pattern:             "[1-9]",
				PatternErrorMessage: "a duration must be longer than zero",
			}},
		}
	},
	reflectTypeOf[TimeSpan](): func() *jsonSchema {
		return &jsonSchema{
			Type:                "string",
			Pattern:             timeSpanPattern,
			PatternErrorMessage: "write opening hours as HH:MM-HH:MM, like 09:00-17:00; 24:00 may end a span",
			Examples:            []any{"09:00-17:00", "00:00-24:00"},
		}
	},
	reflectTypeOf[Expr](): func() *jsonSchema {
		return &jsonSchema{
			Type:                "string",
			Pattern:             exprPattern,
			PatternErrorMessage: `an expression starts with "=", as in "= request.priority == 'high'"`,
		}
	},
	reflectTypeOf[Text](): schemaText,
	reflectTypeOf[ApprovalMode](): func() *jsonSchema {
		return &jsonSchema{Type: "string", Pattern: approvalModePattern,
			PatternErrorMessage: "write any, all, or quorum:N, like quorum:2", Examples: []any{"any", "all", "quorum:2"}}
	},
	reflectTypeOf[NodeType](): func() *jsonSchema { return schemaWords(nodeTypeNames()...) },
	reflectTypeOf[StageState](): func() *jsonSchema {
		return schemaWords(string(StateNew), string(StateInProgress), string(StateClosed))
	},
}

var nodeDecoderType = reflectTypeOf[nodeDecoder]()

// The fixed words the loader checks with lists local to its functions; TestSchemaWordsAgreeWithLoader
// keeps them in step.
var (
	schemaAssignmentStrategies = []string{"round_robin", "least_loaded", "pool"}
	schemaAssignmentPaths      = [][]string{{"dispatcher", "group", "engineer"}, {"dispatcher", "engineer"}, {"rules"}}
	schemaRatingScales         = []string{"five-star", "ten-point"}
	schemaQuestionTypes        = []string{"score", "text", "choice"}
	schemaApprovalTimeouts     = []string{"approve", "reject"}
)

func recipientsSchema() *jsonSchema {
	return &jsonSchema{Type: "array", MinItems: schemaInt(1), Items: &jsonSchema{Type: "string", Pattern: recipientPattern(),
		PatternErrorMessage: "a recipient is " + strings.Join(recipientWords, ", ") + ", or user:NAME, role:NAME, group:NAME",
		Examples:            schemaValues(recipientWords)}}
}

func webhookURLSchema() *jsonSchema {
	return &jsonSchema{Type: "string", Pattern: webhookURLPattern,
		PatternErrorMessage: `an http(s) URL, or an expression starting with "=" that gives one`}
}

func convertMapSchema() *jsonSchema {
	s := &jsonSchema{Type: "object", AdditionalProperties: false,
		PatternProperties: map[string]*jsonSchema{`^fields\.`: schemaRef("Text")}}
	for _, f := range convertFields {
		s.Properties = append(s.Properties, schemaProperty{f, schemaRef("Text")})
	}
	return s
}

func assignmentPathSchema() *jsonSchema {
	var words []string
	for _, p := range schemaAssignmentPaths {
		for _, w := range p {
			if !slices.Contains(words, w) {
				words = append(words, w)
			}
		}
	}
	return &jsonSchema{Type: "array", Items: schemaWords(words...), Enum: schemaValues(schemaAssignmentPaths)}
}

// fieldSchemas replace the schema a field's Go type gives with a more precise one, by
// "OwnerType.yamlName" (OwnerType is the struct that declares the field, Header for the fields of
// every definition's header). The replacement must describe the same JSON type.
var fieldSchemas = map[string]func() *jsonSchema{
	"Header.apiVersion":   func() *jsonSchema { return &jsonSchema{Type: "string", Const: APIVersion} },
	"Header.kind":         func() *jsonSchema { return schemaWords(kinds...) },
	"Header.key":          func() *jsonSchema { return schemaRef(identifierDef) },
	"Calendar.apiVersion": func() *jsonSchema { return &jsonSchema{Type: "string", Const: APIVersion} },
	"Calendar.kind":       func() *jsonSchema { return schemaWords(kinds...) },
	"Calendar.key":        func() *jsonSchema { return schemaRef(identifierDef) },
	"Calendar.timeZone": func() *jsonSchema {
		return &jsonSchema{Type: "string", Pattern: timeZonePattern, Examples: schemaValues(schemaTimeZoneExamples)}
	},
	"Holiday.date": func() *jsonSchema {
		return &jsonSchema{Type: "string", Pattern: holidayDatePattern, PatternErrorMessage: "write the day as YYYY-MM-DD, like 2026-12-25"}
	},
	"Process.numbering": func() *jsonSchema {
		return &jsonSchema{Type: "string", Pattern: numberingPattern,
			PatternErrorMessage: "use text and the tokens {yyyy}, {yy}, {mm}, {dd}, with exactly one {seq} or {seq:N} (N from 1 to 18)",
			Examples:            []any{DefaultNumbering, DefaultWorkOrderNumbering}}
	},
	"Process.calendar":  func() *jsonSchema { return schemaRef(identifierDef) },
	"Scenario.start":    scenarioTimeSchema,
	"Scenario.until":    scenarioTimeSchema,
	"ScenarioAction.at": scenarioTimeSchema,
	"Process.stages": func() *jsonSchema {
		return &jsonSchema{Type: "array", MinItems: schemaInt(1), Items: schemaRef("Stage")}
	},
	"WorkOrderType.intake": func() *jsonSchema { return schemaList(schemaWords(intakeChannels...)) },
	"Intake.channels":      func() *jsonSchema { return schemaList(schemaWords(RequestChannels...)) },
	"LayoutField.field": func() *jsonSchema {
		return &jsonSchema{Type: "string", Pattern: layoutFieldPattern,
			PatternErrorMessage: "use subject, description, category, phone, urgency, or fields.ID (a custom field)"}
	},
	"Handling.roles":  func() *jsonSchema { return schemaList(schemaRef(identifierDef)) },
	"Handling.groups": func() *jsonSchema { return schemaList(schemaRef(identifierDef)) },
	"WorkOrderType.nodes": func() *jsonSchema {
		return &jsonSchema{Type: "array", MinItems: schemaInt(1), Items: schemaRef("Node")}
	},
	"Stage.id":      func() *jsonSchema { return schemaRef(identifierDef) },
	"SLA.pauseIn":   func() *jsonSchema { return schemaList(schemaRef(identifierDef)) },
	"Automation.on": func() *jsonSchema { return schemaWords(schemaStrings(automationTriggers)...) },
	"Automation.do": func() *jsonSchema {
		return &jsonSchema{Type: "array", MinItems: schemaInt(1), Items: schemaRef("AutomationAction")}
	},
	"AutomationAction.move":    func() *jsonSchema { return schemaRef(identifierDef) },
	"NotifyAction.template":    func() *jsonSchema { return schemaRef(identifierDef) },
	"NotifyAction.to":          recipientsSchema,
	"NotifyAction.channels":    func() *jsonSchema { return schemaList(schemaWords(messageChannels...)) },
	"WebhookAction.url":        webhookURLSchema,
	"ConvertAction.recordType": func() *jsonSchema { return schemaRef(identifierDef) },
	"ConvertAction.map":        convertMapSchema,
	"Approval.approvers": func() *jsonSchema {
		return &jsonSchema{Type: "array", MinItems: schemaInt(1), Items: schemaRef("Approver")}
	},
	"Approval.onTimeout":  func() *jsonSchema { return schemaWords(schemaApprovalTimeouts...) },
	"Approver.role":       func() *jsonSchema { return schemaWords(approverRoles...) },
	"Question.type":       func() *jsonSchema { return schemaWords(schemaQuestionTypes...) },
	"FieldDef.type":       func() *jsonSchema { return schemaWords(fieldTypes...) },
	"FieldDef.id":         func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.id":             func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.stage":          func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.next":           func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.onReject":       func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.onTimeout":      func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.path":           assignmentPathSchema,
	"Node.strategy":       func() *jsonSchema { return schemaWords(schemaAssignmentStrategies...) },
	"Node.onDecline":      func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.maxOffers":      func() *jsonSchema { return &jsonSchema{Type: "integer", Minimum: schemaInt(0)} },
	"Node.scale":          func() *jsonSchema { return schemaWords(schemaRatingScales...) },
	"Node.template":       func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.to":             recipientsSchema,
	"Node.channels":       func() *jsonSchema { return schemaList(schemaWords(messageChannels...)) },
	"Node.url":            webhookURLSchema,
	"Node.recordType":     func() *jsonSchema { return schemaRef(identifierDef) },
	"Node.map":            convertMapSchema,
	"Node.default":        func() *jsonSchema { return schemaRef(identifierDef) },
	"NodeRule.template":   func() *jsonSchema { return schemaRef(identifierDef) },
	"Escalation.escalate": func() *jsonSchema { return schemaWords(approverRoles...) },
	"Escalation.next":     func() *jsonSchema { return schemaRef(identifierDef) },
	"Invite.channels":     func() *jsonSchema { return schemaList(schemaWords(inviteChannels...)) },
	"Invite.template":     func() *jsonSchema { return schemaRef(identifierDef) },
	"Case.next":           func() *jsonSchema { return schemaRef(identifierDef) },
	"Mailbox.addresses": func() *jsonSchema {
		return &jsonSchema{Type: "array", MinItems: schemaInt(1), Items: &jsonSchema{Type: "string", Pattern: mailAddressPattern,
			PatternErrorMessage: "a bare email address, like service@example.com"}}
	},
	"Mailbox.default":     func() *jsonSchema { return schemaRef(identifierDef) },
	"MailRule.recordType": func() *jsonSchema { return schemaRef(identifierDef) },
}

// mailAddressPattern is a loose shape of a bare email address; validation parses it for real.
const mailAddressPattern = `^[^@\s<>"]+@[^@\s<>"]+$`

// schemaTypeRules add the rules of a struct type that involve more than one field.
var schemaTypeRules = map[string]func(s *jsonSchema){
	// An action is exactly one of notify, webhook, convert or activity.
	"AutomationAction": func(s *jsonSchema) { s.MinProperties, s.MaxProperties = schemaInt(1), schemaInt(1) },
	// An approver is exactly one of role, group, user or contact: true.
	"Approver": func(s *jsonSchema) {
		s.OneOf = []*jsonSchema{
			{Required: []string{"role"}}, {Required: []string{"group"}}, {Required: []string{"user"}},
			{Required: []string{"contact"}, Properties: schemaProperties{{"contact", &jsonSchema{Const: true}}}},
		}
	},
	"Escalation": func(s *jsonSchema) {
		s.AnyOf = []*jsonSchema{{Required: []string{"escalate"}}, {Required: []string{"next"}}}
	},
	"FieldDef": func(s *jsonSchema) {
		s.If = &jsonSchema{Properties: schemaProperties{{"type", &jsonSchema{Const: "choice"}}}, Required: []string{"type"}}
		s.Then = &jsonSchema{Required: []string{"options"}, Properties: schemaProperties{{"options", &jsonSchema{MinItems: schemaInt(2)}}}}
	},
	"Question": func(s *jsonSchema) {
		s.If = &jsonSchema{Properties: schemaProperties{{"type", &jsonSchema{Const: "choice"}}}, Required: []string{"type"}}
		s.Then = &jsonSchema{Required: []string{"options"}, Properties: schemaProperties{{"options", &jsonSchema{MinItems: schemaInt(2)}}}}
	},
	// A mailbox rule creates a work order of a record type or refuses the message.
	"MailRule": func(s *jsonSchema) {
		s.OneOf = []*jsonSchema{
			{Required: []string{"recordType"}},
			{Required: []string{"reject"}, Properties: schemaProperties{{"reject", &jsonSchema{Const: true}}}},
		}
	},
	// A calendar must be open on some day.
	"Calendar":    func(s *jsonSchema) { s.require("hours") },
	"WeeklyHours": func(s *jsonSchema) { s.MinProperties = schemaInt(1) },
}

// schemaNodeTypeRules add, to the schema of a node type, what validation requires of its fields. A rule
// may only touch the fields the type uses (nodeTypes).
var schemaNodeTypeRules = map[NodeType]func(n *jsonSchema){
	NodeApproval: func(n *jsonSchema) {
		n.require("approvers", "timeout", "onTimeout", "onReject")
		n.prop("approvers").MinItems = schemaInt(1)
		n.setProp("onTimeout", &jsonSchema{Type: "string", Enum: schemaValues(schemaApprovalTimeouts),
			Description: "When the timeout passes: approve or reject."})
	},
	NodeAssignment: func(n *jsonSchema) {
		n.prop("rules").Items = &jsonSchema{AllOf: []*jsonSchema{schemaRef("NodeRule")},
			AnyOf: []*jsonSchema{{Required: []string{"group"}}, {Required: []string{"engineer"}}}}
		n.AllOf = append(n.AllOf, &jsonSchema{
			If:   &jsonSchema{Properties: schemaProperties{{"path", &jsonSchema{Const: []any{"rules"}}}}, Required: []string{"path"}},
			Then: &jsonSchema{Required: []string{"rules"}, Properties: schemaProperties{{"rules", &jsonSchema{MinItems: schemaInt(1)}}}},
		})
	},
	NodeAcceptance: func(n *jsonSchema) {
		n.require("timeout", "onDecline", "onTimeout")
		n.prop("onTimeout").Description = "The node to go back to when the engineer does not answer in time."
	},
	NodeChecklist: func(n *jsonSchema) {
		n.require("steps")
		n.prop("steps").MinItems = schemaInt(1)
	},
	NodeRating: func(n *jsonSchema) {
		n.require("scale")
		n.prop("rules").Items = &jsonSchema{AllOf: []*jsonSchema{schemaRef("NodeRule")}, Required: []string{"template"}}
		n.prop("template").Description = "The rating template (definitions/templates, kind RatingTemplate) used when no rule applies."
		// Without autoComplete, a rating that is not mandatory would wait forever.
		n.AllOf = append(n.AllOf, &jsonSchema{
			If:   &jsonSchema{Properties: schemaProperties{{"mandatory", &jsonSchema{Const: true}}}, Required: []string{"mandatory"}},
			Else: &jsonSchema{Required: []string{"autoComplete"}},
		})
	},
	NodeFollowUp: func(n *jsonSchema) {
		n.AnyOf = []*jsonSchema{
			{Required: []string{"agents"}},
			{Required: []string{"rules"}, Properties: schemaProperties{{"rules", &jsonSchema{MinItems: schemaInt(1)}}}},
		}
		n.prop("template").Description = "The rating template (definitions/templates, kind RatingTemplate) of the follow-up survey."
	},
	NodeNotify: func(n *jsonSchema) {
		n.require("template", "to")
		n.prop("template").Description = "The message template (definitions/templates, kind MessageTemplate) to send."
	},
	NodeWebhook: func(n *jsonSchema) { n.require("url") },
	NodeConvert: func(n *jsonSchema) { n.require("recordType") },
	NodeDecision: func(n *jsonSchema) {
		n.require("cases", "default")
		n.prop("cases").MinItems = schemaInt(1)
	},
	NodeTimer: func(n *jsonSchema) { n.require("duration") },
}

// kindSchemas are the definition kinds, each with the type its files decode into (as decodeFile
// does) and what sets it apart from others of the same type.
var kindSchemas = []struct {
	kind   Kind
	goType reflect.Type
	tailor func(g *schemaGen, s *jsonSchema)
}{
	{KindServiceRequestQueue, reflectTypeOf[Queue](), nil},
	{KindWorkOrderType, reflectTypeOf[WorkOrderType](), func(g *schemaGen, s *jsonSchema) {
		// In a work-order type, approvals are nodes, not part of a stage.
		stage := g.structSchema(reflectTypeOf[Stage]())
		stage.keepProps(func(name string) bool { return name != "approval" })
		g.define("WorkOrderStage", stage)
		s.prop("stages").Items = schemaRef("WorkOrderStage")
	}},
	{KindCalendar, reflectTypeOf[Calendar](), nil},
	{KindMessageTemplate, reflectTypeOf[Template](), func(_ *schemaGen, s *jsonSchema) {
		s.keepProps(func(name string) bool { return name != "questions" })
		s.require("body")
		s.prop("body").MinLength = schemaInt(1)
	}},
	{KindRatingTemplate, reflectTypeOf[Template](), func(_ *schemaGen, s *jsonSchema) {
		s.require("questions")
		s.prop("questions").MinItems = schemaInt(1)
	}},
	{KindMailbox, reflectTypeOf[Mailbox](), nil},
	{KindScenario, reflectTypeOf[Scenario](), nil},
}

// schemaGen builds the schema and collects what is wrong with the tables above.
type schemaGen struct {
	defs     map[string]*jsonSchema
	defTypes map[string]reflect.Type
	used     map[string]bool // keys of schemaDocs and fieldSchemas that were looked up
	// undescribed lists the fields and types without an entry in schemaDocs.
	undescribed []string
	errs        []string
}

func (g *schemaGen) errorf(format string, args ...any) {
	if msg := fmt.Sprintf(format, args...); !slices.Contains(g.errs, msg) {
		g.errs = append(g.errs, msg)
	}
}

// doc returns the description of a key of schemaDocs, noting keys without one.
func (g *schemaGen) doc(key string) string {
	d, ok := schemaDocs[key]
	if !ok {
		if !slices.Contains(g.undescribed, key) {
			g.undescribed = append(g.undescribed, key)
		}
		return ""
	}
	g.used[key] = true
	return d
}

func (g *schemaGen) define(name string, s *jsonSchema) {
	if s.Description == "" {
		s.Description = g.doc(name)
	}
	g.defs[name] = s
}

// generateSchema builds the whole schema: a root that dispatches on kind to one definition per kind.
func generateSchema() (*jsonSchema, *schemaGen) {
	g := &schemaGen{defs: map[string]*jsonSchema{}, defTypes: map[string]reflect.Type{}, used: map[string]bool{}}
	g.define(identifierDef, &jsonSchema{Type: "string", Pattern: idPattern.String(),
		PatternErrorMessage: "start with a lower-case letter and use only a-z, 0-9, - and _"})

	root := &jsonSchema{
		Schema:      "https://json-schema.org/draft/2020-12/schema",
		Comment:     "Generated from the Go types of package process by `fieldflow defs schema`; do not edit.",
		Title:       "Fieldflow definition",
		Description: g.doc("root"),
		Type:        "object",
		Properties: schemaProperties{
			{"apiVersion", &jsonSchema{Type: "string", Const: APIVersion, Description: g.doc("Header.apiVersion")}},
			{"kind", &jsonSchema{Type: "string", Enum: schemaValues(kinds), Description: g.doc("Header.kind")}},
		},
		Required: []string{"kind"},
	}
	var covered []string
	for _, k := range kindSchemas {
		if !slices.Contains(kinds, string(k.kind)) {
			g.errorf("kind %s is not in kinds", k.kind)
		}
		covered = append(covered, string(k.kind))
		s := g.structSchema(k.goType)
		if k.tailor != nil {
			k.tailor(g, s)
		}
		kindProp := s.prop("kind")
		if kindProp == nil {
			g.errorf("%s has no kind field", k.goType)
			continue
		}
		s.setProp("kind", &jsonSchema{Type: "string", Const: string(k.kind), Description: kindProp.Description})
		g.define(string(k.kind), s)
		root.AllOf = append(root.AllOf, &jsonSchema{
			If:   &jsonSchema{Properties: schemaProperties{{"kind", &jsonSchema{Const: string(k.kind)}}}, Required: []string{"kind"}},
			Then: schemaRef(string(k.kind)),
		})
	}
	for _, k := range kinds {
		if !slices.Contains(covered, k) {
			g.errorf("kind %s has no entry in kindSchemas", k)
		}
	}
	g.nodeSchemas()

	for _, key := range sortedKeys(fieldSchemas) {
		if !g.used[key] {
			g.errorf("fieldSchemas has %q, which is not a field of the definition language", key)
		}
	}
	for _, key := range sortedKeys(schemaDocs) {
		if !g.used[key] {
			g.errorf("schemaDocs has %q, which is not a field or type of the definition language", key)
		}
	}
	for _, key := range sortedKeys(schemaTypeRules) {
		if !g.used["type "+key] {
			g.errorf("schemaTypeRules has %q, which is not a type of the definition language", key)
		}
	}
	root.Defs = g.defs
	g.checkRefs("#", root)
	return root, g
}

// checkRefs makes sure no schema puts keywords other than a description beside a $ref: editors
// that follow draft 7 ignore them (wrap the $ref in allOf instead).
func (g *schemaGen) checkRefs(at string, s *jsonSchema) {
	if s == nil {
		return
	}
	if s.Ref != "" {
		bare := *s
		bare.Ref, bare.Description = "", ""
		if b, _ := json.Marshal(&bare); string(b) != "{}" {
			g.errorf("%s: keywords beside $ref %s: %s (wrap the $ref in allOf)", at, s.Ref, b)
		}
	}
	g.checkRefs(at+"/items", s.Items)
	for _, p := range s.Properties {
		g.checkRefs(at+"/properties/"+p.name, p.schema)
	}
	for _, k := range sortedKeys(s.PatternProperties) {
		g.checkRefs(at+"/patternProperties/"+k, s.PatternProperties[k])
	}
	if a, ok := s.AdditionalProperties.(*jsonSchema); ok {
		g.checkRefs(at+"/additionalProperties", a)
	}
	for name, list := range map[string][]*jsonSchema{"anyOf": s.AnyOf, "oneOf": s.OneOf, "allOf": s.AllOf} {
		for i, sub := range list {
			g.checkRefs(fmt.Sprintf("%s/%s/%d", at, name, i), sub)
		}
	}
	g.checkRefs(at+"/if", s.If)
	g.checkRefs(at+"/then", s.Then)
	g.checkRefs(at+"/else", s.Else)
	for _, k := range sortedKeys(s.Defs) {
		g.checkRefs(at+"/$defs/"+k, s.Defs[k])
	}
}

// typeSchema is the schema of a Go type: a $ref for structs and the scalars of scalarSchemas.
func (g *schemaGen) typeSchema(t reflect.Type) *jsonSchema {
	if build, ok := scalarSchemas[t]; ok {
		g.defineType(t, build)
		return schemaRef(t.Name())
	}
	if reflect.PointerTo(t).Implements(nodeDecoderType) {
		g.errorf("%s reads itself from YAML (decodeNode) but has no entry in scalarSchemas", t)
		return &jsonSchema{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeSchema(t.Elem())
	case reflect.Struct:
		g.defineType(t, func() *jsonSchema { return g.structSchema(t) })
		return schemaRef(t.Name())
	case reflect.Slice:
		return schemaList(g.typeSchema(t.Elem()))
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			g.errorf("%s: YAML maps need string keys", t)
		}
		return &jsonSchema{Type: "object", AdditionalProperties: g.typeSchema(t.Elem())}
	case reflect.String:
		return schemaText()
	case reflect.Bool:
		return &jsonSchema{Type: "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return &jsonSchema{Type: "integer"}
	case reflect.Float64:
		return &jsonSchema{Type: "number"}
	case reflect.Interface:
		return &jsonSchema{}
	}
	g.errorf("no JSON Schema for %s", t)
	return &jsonSchema{}
}

// defineType adds the $defs entry of a named type once.
func (g *schemaGen) defineType(t reflect.Type, build func() *jsonSchema) {
	name := t.Name()
	if prev, ok := g.defTypes[name]; ok {
		if prev != t {
			g.errorf("two types are called %s: %s and %s", name, prev, t)
		}
		return
	}
	g.defTypes[name] = t
	g.defs[name] = nil // taken, for recursive types
	g.define(name, build())
}

// structSchema is the schema of a struct type as the decoder reads it: the fields yamlFields lists,
// nothing else.
func (g *schemaGen) structSchema(t reflect.Type) *jsonSchema {
	s := &jsonSchema{Type: "object", AdditionalProperties: false}
	for _, f := range yamlFields(t) {
		key := schemaFieldOwner(t, f.index).Name() + "." + f.name
		fs := g.typeSchema(t.FieldByIndex(f.index).Type)
		if build, ok := fieldSchemas[key]; ok {
			g.used[key] = true
			replacement := build()
			if want, got := g.jsonType(fs), g.jsonType(replacement); want != got {
				g.errorf("fieldSchemas[%q] is a %s, but the field is a %s", key, got, want)
			}
			fs = replacement
		}
		fs.Description = g.doc(key)
		if f.required {
			s.Required = append(s.Required, f.name)
		}
		s.Properties = append(s.Properties, schemaProperty{f.name, fs})
	}
	if rule, ok := schemaTypeRules[t.Name()]; ok {
		g.used["type "+t.Name()] = true
		rule(s)
	}
	return s
}

// schemaFieldOwner returns the struct type that declares the field at index (through inlined structs).
func schemaFieldOwner(t reflect.Type, index []int) reflect.Type {
	for _, i := range index[:len(index)-1] {
		t = t.Field(i).Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	return t
}

// jsonType is the JSON type a schema describes, following $refs.
func (g *schemaGen) jsonType(s *jsonSchema) string {
	switch {
	case s == nil:
		return "object" // a struct being defined
	case s.Type != nil:
		if types, ok := s.Type.([]string); ok {
			return types[0]
		}
		return s.Type.(string)
	case s.Ref != "":
		return g.jsonType(g.defs[strings.TrimPrefix(s.Ref, "#/$defs/")])
	}
	return ""
}

// nodeSchemas defines Node, which dispatches on type, and one definition per node type with the
// fields that type uses (nodeTypes), so editors offer only those and flag the others.
func (g *schemaGen) nodeSchemas() {
	nodeT := reflectTypeOf[Node]()
	base := g.structSchema(nodeT)
	base.AdditionalProperties = nil // the node type's definition refuses unknown fields
	base.keepProps(func(name string) bool { return slices.Contains(commonNodeFields, name) })
	base.Description = g.doc("Node")
	fieldNames := map[string]bool{}
	for _, f := range yamlFields(nodeT) {
		fieldNames[f.name] = true
	}
	for _, f := range commonNodeFields {
		if !fieldNames[f] {
			g.errorf("commonNodeFields has %q, which is not a field of Node", f)
		}
	}
	for _, nt := range nodeTypes {
		allowed := slices.Concat(commonNodeFields, nt.Fields)
		for _, f := range nt.Fields {
			if !fieldNames[f] {
				g.errorf("nodeTypes gives %s the field %q, which is not a field of Node", nt.Type, f)
			}
		}
		s := g.structSchema(nodeT)
		s.keepProps(func(name string) bool { return slices.Contains(allowed, name) })
		s.setProp("type", &jsonSchema{Type: "string", Const: string(nt.Type), Description: s.prop("type").Description})
		if rule, ok := schemaNodeTypeRules[nt.Type]; ok {
			before := len(g.errs)
			g.checkNodeRule(nt.Type, rule, s)
			if len(g.errs) > before {
				continue
			}
		}
		name := nodeDefName(nt.Type)
		g.defTypes[name] = nodeT
		s.Description = g.doc(name)
		g.defs[name] = s
		base.AllOf = append(base.AllOf, &jsonSchema{
			If:   &jsonSchema{Properties: schemaProperties{{"type", &jsonSchema{Const: string(nt.Type)}}}, Required: []string{"type"}},
			Then: schemaRef(name),
		})
	}
	for t := range schemaNodeTypeRules {
		if !slices.Contains(nodeTypeNames(), string(t)) {
			g.errorf("schemaNodeTypeRules has %q, which is not a node type", t)
		}
	}
	g.defTypes["Node"] = nodeT
	g.defs["Node"] = base
}

// checkNodeRule applies a node type's rule, reporting a rule that touches a field the type does
// not use (prop returns nil for it).
func (g *schemaGen) checkNodeRule(t NodeType, rule func(*jsonSchema), s *jsonSchema) {
	defer func() {
		if r := recover(); r != nil {
			g.errorf("schemaNodeTypeRules[%s] uses a field a %s node does not have: %v", t, t, r)
		}
	}()
	rule(s)
	for _, name := range s.Required {
		if s.prop(name) == nil {
			g.errorf("schemaNodeTypeRules[%s] requires %q, which a %s node does not use", t, name, t)
		}
	}
}

// nodeDefName names the definition of a node type: follow_up → FollowUpNode.
func nodeDefName(t NodeType) string {
	var b strings.Builder
	for _, part := range strings.Split(string(t), "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String() + "Node"
}

// schemaDocs are the descriptions designers read in their editor, by type name, kind name, node
// definition name, or "OwnerType.yamlName" for fields. They are written for designers, not Go
// developers; the tests require one for every field and type.
var schemaDocs = map[string]string{
	"root": "A Fieldflow definition file: a service-request queue, a work-order type, a business calendar, " +
		"a message or rating template, a service mailbox, or a simulation scenario. `kind` says which.",

	// Kinds.
	"ServiceRequestQueue": "A service-request queue. A request moves through the queue's stages by agent actions " +
		"(progress, regress, close); a stage may need an approval before a request leaves it.",
	"WorkOrderType": "A work-order record type. A work order runs through the nodes in order (or along their next " +
		"and on... links); each node may put the order in one of the stages.",
	"Calendar": "A business calendar: the opening hours of each weekday and the holidays, in one time zone. " +
		"Business durations such as 8bh count only its opening hours.",
	"MessageTemplate": "A message template: the subject and body of a notification, written as Go text/template " +
		"texts that may use {{.Number}}, {{.Subject}}, {{.URL}} and the other fields in definitions/README.md.",
	"RatingTemplate": "A rating template: the questions a customer answers when rating a work order.",
	"Mailbox": "A service mailbox: the addresses customers write to, and the rules that turn each message into " +
		"a work order (channel email) of a record type.",
	"Mailbox.addresses": "The recipient addresses this mailbox accepts, like service@example.com, compared without " +
		"regard to case. Mail to any other address is refused. An address belongs to one mailbox.",
	"Mailbox.rules": "Rules tried in order on each message; the first whose condition holds decides the record type " +
		"(or refuses the message).",
	"Mailbox.default": "The record type (a work-order type that lists email in its intake) of a message no rule " +
		"takes. Leave it out to refuse such messages.",
	"MailRule": "One mailbox rule: a condition over the message and what to do when it holds — recordType: KEY " +
		"or reject: true.",
	"MailRule.when": "The condition, an expression starting with \"=\" that gives true or false; it may use from " +
		"(the sender's address, lower-case), fromName, to (the mailbox address), subject, body and attachments " +
		"(how many files), as in = subject matches \"(?i)install\".",
	"MailRule.recordType": "The work-order type to create when the condition holds; it must list email in its intake.",
	"MailRule.reject":     "true: refuse the message (no work order), for example auto-replies.",

	// Header.
	"Header.apiVersion":  "The version of the definition language: fieldflow/v1.",
	"Header.kind":        "What the file defines: " + strings.Join(kinds, ", ") + ".",
	"Header.key":         "The definition's key, unique among definitions of its kind; other definitions refer to it by this key.",
	"Header.title":       "The name shown to people; the key when not given.",
	"Header.description": "A longer description, for the people who read the definition.",

	// Process.
	"Process.numbering": "How records are numbered: text with {yyyy}, {yy}, {mm}, {dd} and one {seq} or {seq:N} " +
		"(the sequence, zero-padded to N digits; it starts again when the dated text changes). " +
		"Default: SR-{yyyy}-{seq:6} for queues, WO-{yyyy}-{seq:6} for work-order types.",
	"Process.calendar": "The key of the business calendar (definitions/calendars) that business durations and SLA " +
		"clocks count on. Without one, every hour counts.",
	"Process.priority": "How a record's priority follows from its impact and urgency. Default: the usual " +
		"three-by-three matrix of high, medium and low giving critical, high, medium and low.",
	"Process.stages": "The stages, in order: exactly one with state new (first), any number in_progress, " +
		"exactly one closed (last).",
	"Process.sla":         "Service-level targets, per priority.",
	"Process.automations": "Actions to run when events happen.",
	"Queue.categories":    "The categories a request of this queue may have.",
	"Queue.conversions":   "The work orders an agent may convert a request into (POST /v1/service-requests/{id}/convert), each with its field mapping.",
	"Queue.fields":        "Custom fields of the queue's requests: typed, checked on every create and update, seen by expressions as request.fields.",
	"FieldDef":            "A custom field.",
	"FieldDef.id":         "The field's id, used in the API (fields.ID) and in expressions (request.fields.ID).",
	"FieldDef.title":      "The field's name as people read it.",
	"FieldDef.type":       "text, number, boolean, date (YYYY-MM-DD) or choice (one of options).",
	"FieldDef.required":   "A request cannot be created without a value.",
	"FieldDef.options":    "The values a choice field allows.",
	"Queue.intake": "Who and what creates the queue's requests: the channels, the staff who handle requests " +
		"nobody owns, and the defaults and assignment rules applied to requests customers create.",
	"Intake": "A queue's intake settings. Requests customers create (portal, guest, email) get the defaults and " +
		"are routed by the rules; those no rule routes and without a default owner or team wait unassigned in " +
		"the to-do pool of the handling roles and groups until one claims them. Requests agents create keep " +
		"what the agent gives (without owner or team, the agent owns them).",
	"Intake.channels": "The channels that may create requests: agent and online-service (staff, the agent " +
		"console during a chat or call), portal (a registered contact), guest (a contact without an account), " +
		"email (the service mailbox). Default: agent and online-service.",
	"Intake.handling": "The staff who handle the queue's requests: anyone with one of the roles or in one of " +
		"the groups sees unassigned requests in GET /v1/todo/pool and may claim them.",
	"Intake.defaults": "Values given to requests customers create, where the customer gave none.",
	"Intake.rules": "Assignment rules for requests customers create, in priority order: the first whose " +
		"condition holds gives the team, the owner or both. When none holds, the default owner and team apply, " +
		"and without them the request stays unassigned.",
	"Queue.layout": "The form customers fill on the portal (signed in or as guests) to create a request, " +
		"field by field in this order. Without it: subject, description, category (when the queue has " +
		"categories), phone and the custom fields. The queue's intake channels must take portal or guest.",
	"LayoutField": "A field of the customer form.",
	"LayoutField.field": "What the field fills: subject (always required), description, category (one of the " +
		"queue's categories), phone (the contact's), urgency (a level of the priority matrix), or fields.ID " +
		"(a custom field of the queue; a required one must be on the layout).",
	"LayoutField.label":     "The question the form asks; a default per field when not given.",
	"LayoutField.hint":      "A line of help shown under the label.",
	"LayoutField.required":  "The form is refused without a value (the subject and required custom fields always are).",
	"LayoutField.options":   "For the category field: the categories offered, each one of the queue's (all when not given).",
	"Handling":              "The roles and groups whose members claim unassigned requests.",
	"Handling.roles":        "Roles (like agent) whose holders may claim.",
	"Handling.groups":       "Groups (teams, like billing-desk) whose members may claim.",
	"RequestDefaults":       "Defaults for requests customers create.",
	"RequestDefaults.owner": "The user who owns a request no rule routes.",
	"RequestDefaults.team":  "The team (group) a request no rule routes goes to.",
	"RequestDefaults.impact": "The impact when the customer gives none; with urgency it sets the priority " +
		"through the priority matrix. The matrix's default impact when not given.",
	"RequestDefaults.urgency":    "The urgency when the customer gives none. The matrix's default urgency when not given.",
	"RequestDefaults.categories": "The categories of a request that names none; each must be a category of the queue.",
	"RequestDefaults.tags":       "The tags of a request that gives none.",
	"AssignmentRule":             "An assignment rule: when the condition holds, the request goes to the team, the owner, or both.",
	"AssignmentRule.when": "The condition, an expression starting with = over the new request (request.channel, " +
		"request.priority, request.categories, request.contact.email, request.fields …), like " +
		"= \"refund\" in request.categories.",
	"AssignmentRule.team":  "The team (group) to route to: a name, or an expression (starting with =) that gives one.",
	"AssignmentRule.owner": "The user to route to: a name, or an expression (starting with =) that gives one.",
	"WorkOrderType.intake": "The channels that may create work orders of this type; any when not given.",
	"WorkOrderType.nodes": "The steps of the process, in order; a node goes on to the next one in the list " +
		"unless it says otherwise. The last node ends the process (type end) or names where to go.",

	"Stage": "A stage of the process, shown in lists and the UI.",
	"WorkOrderStage": "A stage of a work order, shown in lists and the UI; nodes put the order in it. " +
		"Approvals are nodes of type approval here, not part of a stage.",
	"Stage.id":    "The stage's id, unique in the process; nodes, SLA pauses and automations refer to it.",
	"Stage.title": "The name shown to people; the id when not given.",
	"Stage.state": "The state the stage maps to: new, in_progress or closed.",
	"Stage.approval": "An approval that must be given before a request leaves this stage forwards " +
		"(service-request queues only; not on the last two stages).",
	"StageState": "new: just created; in_progress: being worked on; closed: done.",

	"SLA": "Service-level targets: alert and completion times per priority, and what happens when they pass.",
	"SLA.alert": "Per priority: how long a record may stay in its new stage before an alert, like " +
		"{critical: 15m, high: 1h}. Keys are the process's priorities.",
	"SLA.completion": "Per priority: how long until the record must be closed, like {critical: 4h, high: 1d}. " +
		"Keys are the process's priorities.",
	"SLA.pauseIn":  "Ids of in_progress stages in which the SLA clocks stop (waiting for the customer, for example).",
	"SLA.onAlert":  "Actions to run when the alert time passes.",
	"SLA.onBreach": "Actions to run when the completion time passes.",

	"Automation":                "Actions run when an event happens and the condition holds.",
	"Automation.on":             "The event that triggers the automation.",
	"Automation.when":           "A condition (an expression starting with =); the automation runs only when it is true.",
	"Automation.do":             "The actions to run, in order.",
	"AutomationAction":          "One action: exactly one of notify, webhook, convert, activity, approval or move.",
	"AutomationAction.move":     "Put the service request in this stage (not a closing one), forwards or back. Service requests only.",
	"AutomationAction.notify":   "Send a message made from a template.",
	"AutomationAction.webhook":  "Post the record and the event to a URL.",
	"AutomationAction.convert":  "Start a work order from the record.",
	"AutomationAction.activity": "Give a task to a user or team.",
	"AutomationAction.approval": "Ask for an approval on the request (approvers, mode, timeout, onTimeout), not tied to a stage change. Service requests only.",

	"NotifyAction":          "Send a message made from a message template.",
	"NotifyAction.template": "The key of a message template (definitions/templates, kind MessageTemplate).",
	"NotifyAction.to": "Who receives it: owner, team, contact, assignee, engineer, group, dispatcher, approvers, " +
		"or user:NAME, role:NAME, group:NAME.",
	"NotifyAction.channels": "The channels to send on (email, sms, wechat); the recipients' usual channel when not given.",

	"WebhookAction":     "Post the record and the event as JSON to a URL, signed with HMAC-SHA256 when secretEnv is given.",
	"WebhookAction.url": "The http(s) URL to post to, or an expression (starting with =) that gives it.",
	"WebhookAction.secretEnv": "The name of an environment variable holding the signing secret; the request " +
		"carries an HMAC-SHA256 signature when it is set.",

	"ConvertAction":            "Start a work order from the record, copying fields.",
	"ConvertAction.recordType": "The key of the work-order type (definitions/work-orders) to start.",
	"ConvertAction.map": "Work-order field → value: literal text, or an expression (starting with =) that gives " +
		"text. Fields: " + strings.Join(convertFields, ", ") + ", or fields.NAME.",

	"ActivityAction":       "Give a task to a user or team.",
	"ActivityAction.title": "What the task is.",
	"ActivityAction.to":    "The user or team that gets the task.",
	"ActivityAction.due":   "How long the task may take, like 1d or 8bh.",

	"Approval":      "An approval: the approvers decide before the request may go on.",
	"Approval.when": "A condition (an expression starting with =); the approval is needed only when it is true. Always when not given.",
	"Approval.approvers": "Who may decide: each is one of role, group, user, or contact: true (the customer, " +
		"through a link).",
	"Approval.mode":      "How many approvals are needed: any (one), all, or quorum:N. Default: any.",
	"Approval.timeout":   "How long the approvers have, like 2d or 16bh.",
	"Approval.onTimeout": "When the timeout passes: approve or reject.",
	"Approval.template": "The MessageTemplate emailed to the contact, when the contact is an approver, with " +
		"{{.ApprovalURL}} (the signed link to answer through) and {{.ApprovalExpires}}. A built-in message when not given.",
	"ApprovalMode": "any: one approval suffices; all: every approver must approve; quorum:N: N approvals.",

	"Approver":         "Who may decide on an approval: exactly one of role, group, user or contact: true.",
	"Approver.role":    "Anyone with this role.",
	"Approver.group":   "Anyone in this group (team).",
	"Approver.user":    "This user.",
	"Approver.contact": "true: the record's contact decides, through a link sent to them.",

	"PriorityModel":         "How a record's priority follows from its impact and urgency.",
	"PriorityModel.default": "The impact and urgency of a record that does not give them.",
	"PriorityModel.matrix": "Impact → urgency → priority, like {high: {high: critical, medium: high, low: medium}, ...}. " +
		"Every impact needs every urgency.",
	"PriorityModel.levels": "The priorities from the most to the least urgent; derived from the matrix when not " +
		"given (critical, high, medium, low first, then the others in alphabetical order).",
	"ImpactUrgency":         "An impact and an urgency: levels of the priority matrix.",
	"ImpactUrgency.impact":  "The impact level, a first-level key of the matrix. Default: medium.",
	"ImpactUrgency.urgency": "The urgency level, a second-level key of the matrix. Default: medium.",

	"Template.subject":   "The subject of the message, a Go text/template text (may use {{.Number}}, {{.Subject}}, {{.URL}}).",
	"Template.body":      "The text of the message, a Go text/template text (may use {{.Number}}, {{.Subject}}, {{.URL}}).",
	"Template.questions": "The questions of a rating template, in order.",
	"Question":           "One question of a rating template.",
	"Question.id":        "The question's id, unique in the template; answers are keyed by it.",
	"Question.text":      "The question as the customer reads it.",
	"Question.type":      "score (on the node's scale), text (free text) or choice (one of options).",
	"Question.options":   "The answers to choose from (choice questions; at least two).",
	"Question.required":  "true: the customer must answer it.",

	"Node":       "A step of a work order's process. Every node has an id and a type; the other fields depend on the type.",
	"Node.id":    "The node's id, unique in the process; other nodes refer to it.",
	"Node.type":  "What the node does: stage, approval, assignment, acceptance, checklist, rating, follow_up, notify, webhook, convert, decision, timer or end.",
	"Node.stage": "The id of the stage the work order is in while at this node (the closing stage for end nodes).",
	"Node.next":  "The id of the node that follows; the next one in the list when not given.",
	"Node.when":  "A condition (an expression starting with =); the node is skipped, on to next, when it is false.",
	"Node.approvers": "Who may decide: each is one of role, group, user, or contact: true (the customer, " +
		"through a link).",
	"Node.mode":      "How many approvals are needed: any (one), all, or quorum:N. Default: any.",
	"Node.onReject":  "The id of the node to go to when the approval is rejected.",
	"Node.timeout":   "How long to wait, like 30m, 2d or 8bh.",
	"Node.onTimeout": "When the timeout passes: for an approval, approve or reject; for an acceptance, the id of the node to go back to.",
	"Node.path": "How the engineer is found: [dispatcher, group, engineer] (a dispatcher picks the group, its " +
		"lead the engineer), [dispatcher, engineer], or [rules] (the first rule that holds gives the group or engineer).",
	"Node.rules": "Rules, tried in order; the first whose condition holds applies. Assignment: gives the group " +
		"or engineer; rating: the rating template; follow_up: the user or group of the agent.",
	"Node.strategy": "How an engineer of the group is picked: round_robin, least_loaded, or pool (engineers " +
		"claim the order from the to-do center).",
	"Node.group":       "The group to assign to: literal text or an expression (starting with =) that gives it.",
	"Node.agents":      "Who does the follow-up: a user, a group, or round robin over a group.",
	"Node.onDecline":   "The id of the node to go back to when the engineer declines.",
	"Node.maxOffers":   "How many times the order may be offered before onExhausted applies; no limit when not given.",
	"Node.onExhausted": "What happens when maxOffers offers have been declined or timed out.",
	"Node.steps":       "The steps of the checklist, in order.",
	"Node.scale":       "The rating scale: five-star or ten-point.",
	"Node.mandatory":   "true: the order waits until the customer rates; otherwise autoComplete moves it on.",
	"Node.multiple":    "true: the customer may rate more than once while the node is open.",
	"Node.autoComplete": "How long to wait for ratings before going on (the node is then force-skipped), " +
		"like 3d. Needed unless mandatory is true.",
	"Node.invite":     "How customers are invited to rate.",
	"Node.allowSkip":  "true: staff may skip the rating.",
	"Node.template":   "The key of a template (definitions/templates): a message template for notify nodes, a rating template for rating and follow_up nodes.",
	"Node.to":         "Who receives it: owner, team, contact, assignee, engineer, group, dispatcher, approvers, or user:NAME, role:NAME, group:NAME.",
	"Node.channels":   "The channels to send on (email, sms, wechat); the recipients' usual channel when not given.",
	"Node.url":        "The http(s) URL to post to, or an expression (starting with =) that gives it.",
	"Node.secretEnv":  "The name of an environment variable holding the signing secret; the request carries an HMAC-SHA256 signature when it is set.",
	"Node.recordType": "The key of the work-order type (definitions/work-orders) to start.",
	"Node.map": "Work-order field → value: literal text, or an expression (starting with =) that gives text. " +
		"Fields: " + strings.Join(convertFields, ", ") + ", or fields.NAME.",
	"Node.cases":    "The branches, tried in order: the first whose condition holds gives the next node.",
	"Node.default":  "The id of the node to go to when no case holds.",
	"Node.duration": "How long to wait, like 1h or 2bh.",
	"Node.resolved": "Whether the order ends resolved; true when not given.",
	"NodeType": "stage: waits for an agent to move on; approval: approvers decide; assignment: an engineer is " +
		"found; acceptance: the engineer accepts or declines; checklist: on-site steps; rating: the customer " +
		"rates; follow_up: an agent's survey; notify: sends a message; webhook: posts to a URL; convert: starts " +
		"a child work order; decision: branches; timer: waits; end: closes the order.",

	"StageNode":      "A node that waits in its stage until an agent moves the order on.",
	"ApprovalNode":   "A node that waits until the approvers decide, or the timeout passes.",
	"AssignmentNode": "A node that finds the engineer: by dispatcher, group lead, rules, or a claim from the to-do center.",
	"AcceptanceNode": "A node that offers the order to the engineer, who accepts, declines or transfers it; declines and timeouts loop back.",
	"ChecklistNode":  "A node that waits until the required on-site steps are done.",
	"RatingNode":     "A node that invites the customer to rate and waits for ratings, or autoComplete.",
	"FollowUpNode":   "A node in which a follow-up agent (rule-based or round robin) fills in a survey.",
	"NotifyNode":     "A node that sends a message made from a template, and goes on.",
	"WebhookNode":    "A node that posts the order to a URL, signed with HMAC when secretEnv is given, and goes on.",
	"ConvertNode":    "A node that starts a child work order with mapped fields, and goes on; the child keeps running if the parent closes.",
	"DecisionNode":   "A node that goes on at once to the first case whose condition holds, or to default.",
	"TimerNode":      "A node that waits for a duration.",
	"EndNode":        "A node that closes the order, resolved unless resolved: false.",

	"NodeRule":          "A rule: when its condition holds, it gives the group, engineer, user or template.",
	"NodeRule.when":     "The condition, an expression starting with =.",
	"NodeRule.group":    "The group: literal text or an expression (starting with =) that gives it.",
	"NodeRule.engineer": "The engineer: literal text or an expression (starting with =) that gives it.",
	"NodeRule.user":     "The user (follow-up agent): literal text or an expression (starting with =) that gives it.",
	"NodeRule.template": "The key of the rating template (definitions/templates, kind RatingTemplate) to use.",

	"AgentPolicy":            "Who does the follow-up: a user, a group, or round robin over a group.",
	"AgentPolicy.user":       "This user does it.",
	"AgentPolicy.group":      "Someone of this group does it.",
	"AgentPolicy.roundRobin": "The members of a group take turns.",
	"RoundRobin":             "The members of a group take turns.",
	"RoundRobin.group":       "The group whose members take turns.",

	"Escalation":          "What happens when an acceptance runs out of offers: escalate, next, or both.",
	"Escalation.escalate": "Hand the order to this role's to-do pool (dispatcher, supervisor, ...).",
	"Escalation.next":     "The id of the node to go on to.",

	"ChecklistStep":            "One step of an on-site checklist.",
	"ChecklistStep.id":         "The step's id, unique in the checklist; conditions refer to it as steps.ID.",
	"ChecklistStep.title":      "What the engineer does.",
	"ChecklistStep.laborTime":  "true: the engineer records the minutes spent.",
	"ChecklistStep.required":   "true: the checklist cannot be finished without it.",
	"ChecklistStep.attachment": "true: the engineer attaches a file (a photo, for example).",
	"ChecklistStep.when":       "A condition (an expression starting with =); the step applies only when it is true. It may refer to earlier steps.",

	"Invite":          "How customers are invited to rate.",
	"Invite.channels": "The channels to invite on: qr, wechat, sms, email.",
	"Invite.priority": "true: try the channels in order and stop at the first that succeeds; otherwise use them all.",
	"Invite.template": "The key of the message template (definitions/templates, kind MessageTemplate) of the invitation; it may use {{.URL}}, {{.Number}}, {{.Subject}}.",

	"Case":      "A branch of a decision.",
	"Case.when": "The condition, an expression starting with =.",
	"Case.next": "The id of the node to go to when the condition holds.",

	"Calendar.apiVersion":   "The version of the definition language: fieldflow/v1.",
	"Calendar.kind":         "What the file defines: Calendar.",
	"Calendar.key":          "The calendar's key; queues and work-order types name it in calendar.",
	"Calendar.title":        "The name shown to people; the key when not given.",
	"Calendar.timeZone":     "The IANA time zone the hours and holidays are in, like Europe/Nicosia or UTC.",
	"Calendar.hours":        "The opening hours of each weekday; a day not given is closed. At least one day must be open.",
	"Calendar.holidays":     "Whole days on which the calendar is closed.",
	"WeeklyHours":           "The opening hours of each weekday, as spans of local time like 09:00-17:00.",
	"WeeklyHours.monday":    "Monday's opening hours, like [\"09:00-12:30\", \"13:30-17:00\"].",
	"WeeklyHours.tuesday":   "Tuesday's opening hours, like [\"09:00-17:00\"].",
	"WeeklyHours.wednesday": "Wednesday's opening hours, like [\"09:00-17:00\"].",
	"WeeklyHours.thursday":  "Thursday's opening hours, like [\"09:00-17:00\"].",
	"WeeklyHours.friday":    "Friday's opening hours, like [\"09:00-17:00\"].",
	"WeeklyHours.saturday":  "Saturday's opening hours, like [\"10:00-14:00\"].",
	"WeeklyHours.sunday":    "Sunday's opening hours; closed when not given.",
	"Holiday":               "A whole day on which the calendar is closed.",
	"Holiday.date":          "The day, YYYY-MM-DD, in the calendar's time zone.",
	"Holiday.name":          "The holiday's name.",

	"Duration": "A length of time: a number and a unit, like 30s, 15m, 4h, 3d (days of 24 hours), 2w, or 1h30m. " +
		"Business time, counted on the calendar's opening hours: 8bh (business hours), 90bm (business minutes).",
	"TimeSpan":   "A span of local time within a day, HH:MM-HH:MM, like 09:00-17:00; 24:00 may end it.",
	"Expr":       "An expression: text starting with =, like \"= request.priority == 'high'\".",
	"Text":       "Literal text, or an expression starting with = that gives text.",
	"Identifier": "A key or id: a lower-case letter, then lower-case letters, digits, - and _.",

	"Scenario": "A simulation scenario for `fieldflow defs simulate KEY --script FILE`: a record created at start, " +
		"then actions at given times, run on a virtual clock that fires SLA alerts, breaches and timeouts.",
	"Scenario.apiVersion": "The version of the definition language: fieldflow/v1.",
	"Scenario.kind":       "What the file defines: Scenario.",
	"Scenario.start": "When the record is created: \"2027-03-26 16:30\" in the definition's calendar time zone " +
		"(UTC without a calendar), or RFC 3339.",
	"Scenario.record":  "The fields the simulated record is created with.",
	"Scenario.actions": "The actions, in order; each at a time (at) or a while after the previous one (after).",
	"Scenario.until": "When the simulation stops, like \"2027-04-02 18:00\"; default: 30 days after the start, " +
		"or once the record is closed and nothing is left to happen.",
	"ScenarioRecord":             "The fields the simulated record is created with.",
	"ScenarioRecord.subject":     "The subject.",
	"ScenarioRecord.description": "The description.",
	"ScenarioRecord.impact":      "The impact level, a first-level key of the priority matrix.",
	"ScenarioRecord.urgency":     "The urgency level, a second-level key of the priority matrix.",
	"ScenarioRecord.categories":  "The request's categories.",
	"ScenarioRecord.tags":        "The record's tags.",
	"ScenarioRecord.owner":       "The user who owns the request.",
	"ScenarioRecord.team":        "The team the request belongs to.",
	"ScenarioRecord.channel":     "The channel the work order arrived by.",
	"ScenarioRecord.region":      "The work order's region.",
	"ScenarioRecord.account":     "The customer account.",
	"ScenarioRecord.device":      "The work order's equipment.",
	"ScenarioRecord.fields":      "Further fields, name → value.",
	"ScenarioDevice":             "The simulated work order's equipment.",
	"ScenarioDevice.code":        "The equipment's code.",
	"ScenarioDevice.category":    "The equipment's category, like hvac.",
	"ScenarioDevice.model":       "The equipment's model.",
	"ScenarioAction":             "One action of a scenario: what happens, and when.",
	"ScenarioAction.at":          "When the action happens, like \"2027-03-29 09:15\".",
	"ScenarioAction.after":       "How long after the previous moment the action happens, like 2h or 4bh.",
	"ScenarioAction.do": "The action: progress, regress, close, decide, assign, claim, accept, decline, transfer, " +
		"start_step, stop_step, complete_step, add_attachment, rate, skip_rating, follow_up, or wait to let time pass.",
	"ScenarioAction.actor":        "Who acts; designer when not given.",
	"ScenarioAction.roles":        "The actor's roles.",
	"ScenarioAction.groups":       "The actor's groups (claim: the actor must be in the order's group).",
	"ScenarioAction.file":         "add_attachment: the name of the file uploaded (a photo of step, when given).",
	"ScenarioAction.toStage":      "progress, regress: the id of the stage to move to.",
	"ScenarioAction.reason":       "Why (regress, decline, transfer).",
	"ScenarioAction.resolved":     "close: whether the record is resolved.",
	"ScenarioAction.resolution":   "close: how it was resolved.",
	"ScenarioAction.approval":     "decide: the approval decided on.",
	"ScenarioAction.decision":     "decide: approve or reject.",
	"ScenarioAction.viaLink":      "decide: true when the contact decides through the link.",
	"ScenarioAction.engineer":     "assign, transfer: the engineer.",
	"ScenarioAction.group":        "assign: the group.",
	"ScenarioAction.step":         "start_step, stop_step, complete_step, add_attachment: the id of the checklist step.",
	"ScenarioAction.result":       "complete_step: the step's result.",
	"ScenarioAction.laborMinutes": "complete_step: the minutes of labor.",
	"ScenarioAction.score":        "rate: the score on the node's scale.",
}
