package process

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Header holds the fields every definition file starts with.
type Header struct {
	APIVersion  string `yaml:"apiVersion,required" json:"apiVersion"`
	Kind        Kind   `yaml:"kind,required" json:"kind"`
	Key         string `yaml:"key,required" json:"key"`
	Title       string `yaml:"title" json:"title"`
	Description string `yaml:"description" json:"description,omitempty"`
}

// Process is what service-request queues and work-order types have in common: stages mapped to
// states, a priority model, numbering, a business calendar, SLA targets and automations.
type Process struct {
	Header      `yaml:",inline"`
	Numbering   string        `yaml:"numbering" json:"numbering"`
	Calendar    string        `yaml:"calendar" json:"calendar,omitempty"`
	Priority    PriorityModel `yaml:"priority" json:"priority"`
	Stages      []Stage       `yaml:"stages,required" json:"stages"`
	SLA         *SLA          `yaml:"sla" json:"sla,omitempty"`
	Automations []Automation  `yaml:"automations" json:"automations,omitempty"`

	// Resolved when the definition is loaded, so a run carries everything it needs.

	// CalendarDef is the business calendar named by Calendar (nil: every hour counts).
	CalendarDef *Calendar `yaml:"-" json:"calendarDef,omitempty"`
	// Templates are the message and rating templates the definition refers to, by key.
	Templates map[string]*Template `yaml:"-" json:"templates,omitempty"`
	// Version is the content hash of the definition.
	Version string `yaml:"-" json:"version"`
}

// Stage is one step of a process, shown in lists and the UI.
type Stage struct {
	ID    string     `yaml:"id,required" json:"id"`
	Title string     `yaml:"title" json:"title,omitempty"`
	State StageState `yaml:"state,required" json:"state"`
	// Approval, on a queue's stage, must be given before a request leaves the stage forwards.
	Approval *Approval `yaml:"approval" json:"approval,omitempty"`
}

// Expr is an expression: YAML text starting with "=" ("= request.priority == \"high\"").
// An empty Expr means "always".
type Expr string

func (e *Expr) decodeNode(n *yaml.Node) error {
	if !strings.HasPrefix(strings.TrimSpace(n.Value), "=") {
		return fmt.Errorf("%q is not an expression; write it with a leading \"=\", as in \"= request.priority == 'high'\"", n.Value)
	}
	*e = Expr(n.Value)
	return nil
}

// Code is the expression without its leading "=".
func (e Expr) Code() string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(e)), "="))
}

// Text is a value that is either literal text or, with a leading "=", an expression that yields text.
type Text string

// IsExpr reports whether the text is an expression.
func (t Text) IsExpr() bool { return strings.HasPrefix(strings.TrimSpace(string(t)), "=") }

// Code is the expression without its leading "=".
func (t Text) Code() string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(t)), "="))
}

// SLA sets the service-level targets of a process, per priority.
type SLA struct {
	// Alert: how long a record may stay in its new state before an alert.
	Alert map[string]Duration `yaml:"alert" json:"alert,omitempty"`
	// Completion: how long until the record must be closed.
	Completion map[string]Duration `yaml:"completion" json:"completion,omitempty"`
	// PauseIn lists stages in which the clocks stop.
	PauseIn  []string           `yaml:"pauseIn" json:"pauseIn,omitempty"`
	OnAlert  []AutomationAction `yaml:"onAlert" json:"onAlert,omitempty"`
	OnBreach []AutomationAction `yaml:"onBreach" json:"onBreach,omitempty"`
}

// Automation runs actions when an event happens (and its condition holds).
type Automation struct {
	On   EventType          `yaml:"on,required" json:"on"`
	When Expr               `yaml:"when" json:"when,omitempty"`
	Do   []AutomationAction `yaml:"do,required" json:"do"`
}

// AutomationAction is one thing an automation or an SLA block does. Exactly one field is set.
type AutomationAction struct {
	Notify   *NotifyAction   `yaml:"notify" json:"notify,omitempty"`
	Webhook  *WebhookAction  `yaml:"webhook" json:"webhook,omitempty"`
	Convert  *ConvertAction  `yaml:"convert" json:"convert,omitempty"`
	Activity *ActivityAction `yaml:"activity" json:"activity,omitempty"`
	// Approval asks for an approval on the record (service requests), not tied to a stage change.
	Approval *Approval `yaml:"approval" json:"approval,omitempty"`
	// Move puts a service request in another stage (not a closing one), forwards or back: a
	// request waiting for its customer goes back to work when the customer writes, say.
	Move string `yaml:"move" json:"move,omitempty"`
}

// NotifyAction sends a message made from a template.
type NotifyAction struct {
	Template string `yaml:"template,required" json:"template"`
	// To lists recipients: owner, team, contact, assignee, group, dispatcher, or user:NAME,
	// role:NAME, group:NAME.
	To       []string `yaml:"to,required" json:"to"`
	Channels []string `yaml:"channels" json:"channels,omitempty"`
}

// WebhookAction posts the record and the event to a URL, signed with HMAC-SHA256 when SecretEnv
// names an environment variable holding the secret.
type WebhookAction struct {
	URL       Text   `yaml:"url,required" json:"url"`
	SecretEnv string `yaml:"secretEnv" json:"secretEnv,omitempty"`
}

// ConvertAction starts a work order from a record, with a field mapping.
type ConvertAction struct {
	RecordType string          `yaml:"recordType,required" json:"recordType"`
	Map        map[string]Text `yaml:"map" json:"map,omitempty"`
}

// ActivityAction gives a task to a user or team.
type ActivityAction struct {
	Title string `yaml:"title,required" json:"title"`
	// To is owner, team, user:NAME or team:NAME.
	To  string   `yaml:"to,required" json:"to"`
	Due Duration `yaml:"due" json:"due,omitempty"`
}

// Approval gates a step until approvers decide.
type Approval struct {
	When      Expr       `yaml:"when" json:"when,omitempty"`
	Approvers []Approver `yaml:"approvers,required" json:"approvers"`
	// Mode: any (one approval suffices), all, or quorum:N.
	Mode    ApprovalMode `yaml:"mode" json:"mode,omitempty"`
	Timeout Duration     `yaml:"timeout,required" json:"timeout"`
	// OnTimeout: approve or reject.
	OnTimeout string `yaml:"onTimeout,required" json:"onTimeout"`
	// Template is the message that brings the contact, when the contact is an approver, the link to
	// answer through; without it a built-in message is sent.
	Template string `yaml:"template" json:"template,omitempty"`
}

// Approver is who may decide: a role, a group, a user, or the record's contact (through a link).
type Approver struct {
	Role    string `yaml:"role" json:"role,omitempty"`
	Group   string `yaml:"group" json:"group,omitempty"`
	User    string `yaml:"user" json:"user,omitempty"`
	Contact bool   `yaml:"contact" json:"contact,omitempty"`
}

// ApprovalMode says how many approvals an approval needs: "any", "all" or "quorum:N".
type ApprovalMode string

// Quorum is the number of approvals needed out of n approvers.
func (m ApprovalMode) Quorum(n int) int {
	switch {
	case m == "" || m == "any":
		return 1
	case m == "all":
		return n
	case strings.HasPrefix(string(m), "quorum:"):
		q, _ := strconv.Atoi(strings.TrimPrefix(string(m), "quorum:"))
		return q
	}
	return 1
}

func (m ApprovalMode) valid() bool {
	if m == "" || m == "any" || m == "all" {
		return true
	}
	q, err := strconv.Atoi(strings.TrimPrefix(string(m), "quorum:"))
	return strings.HasPrefix(string(m), "quorum:") && err == nil && q >= 1
}

// Template is a message template (kind MessageTemplate) or a rating template (kind RatingTemplate),
// defined in definitions/templates/.
type Template struct {
	Header `yaml:",inline"`
	// Subject and Body are Go text/template texts; they may use {{.Number}}, {{.Subject}}, {{.URL}}
	// and the other fields documented in definitions/README.md.
	Subject string `yaml:"subject" json:"subject,omitempty"`
	Body    string `yaml:"body" json:"body,omitempty"`
	// Questions are the questions of a rating template.
	Questions []Question `yaml:"questions" json:"questions,omitempty"`
	Version   string     `yaml:"-" json:"version"`
}

// MessageData is what message templates see: {{.Number}}, {{.Subject}}, {{.URL}} and the rest.
// Loading a template renders it with empty data, so a misspelled variable is a validation error.
type MessageData struct {
	Number      string
	Subject     string
	Priority    string
	Stage       string
	ContactName string
	DueAt       string
	URL         string
	// ContactEmail and Owner address the message; templates may use them too.
	ContactEmail string
	Owner        string
	// ApprovalURL is the signed page where the contact answers the approval a message asks for
	// (messages sent for an approval only), and ApprovalExpires when that link stops working.
	ApprovalURL     string
	ApprovalExpires string
	// RatingURL is the signed page where the contact rates the work (rating invitations only),
	// and RatingExpires when that link stops working.
	RatingURL     string
	RatingExpires string
}

// Question is one question of a rating template.
type Question struct {
	ID       string   `yaml:"id,required" json:"id"`
	Text     string   `yaml:"text,required" json:"text"`
	Type     string   `yaml:"type,required" json:"type"` // score, text or choice
	Options  []string `yaml:"options" json:"options,omitempty"`
	Required bool     `yaml:"required" json:"required,omitempty"`
}

// The kinds of template files.
const (
	KindMessageTemplate Kind = "MessageTemplate"
	KindRatingTemplate  Kind = "RatingTemplate"
)

// Queue is a service-request queue: what a ServiceRequest run interprets. A request moves through
// the queue's stages by agent actions (progress, regress, close); a stage may require an approval
// before a request leaves it forwards. It travels in the run's start input as JSON, so everything
// it needs is in its fields.
type Queue struct {
	Process    `yaml:",inline"`
	Categories []string `yaml:"categories" json:"categories,omitempty"`
	// Fields are the queue's custom fields, typed and validated on every create and update.
	Fields []FieldDef `yaml:"fields" json:"fields,omitempty"`
	// Conversions are the work orders an agent may convert a request into, with their field
	// mappings (POST /v1/service-requests/{id}/convert).
	Conversions []ConvertAction `yaml:"conversions" json:"conversions,omitempty"`
	// Intake says which channels create requests, who handles the unassigned ones, and how
	// requests from customers are filled in and routed.
	Intake *Intake `yaml:"intake" json:"intake,omitempty"`
	// Layout is the form customers fill on the portal to create a request (process/layout.go).
	Layout []LayoutField `yaml:"layout" json:"layout,omitempty"`
}

// FieldDef declares a custom field of a queue.
type FieldDef struct {
	ID       string    `yaml:"id,required" json:"id"`
	Title    string    `yaml:"title" json:"title,omitempty"`
	Type     FieldType `yaml:"type,required" json:"type"`
	Required bool      `yaml:"required" json:"required,omitempty"`
	// Options are the allowed values of a choice field.
	Options []string `yaml:"options" json:"options,omitempty"`
}

// FieldType is the type of a custom field.
type FieldType string

// The custom field types.
const (
	FieldText    FieldType = "text"
	FieldNumber  FieldType = "number"
	FieldBoolean FieldType = "boolean"
	FieldDate    FieldType = "date"
	FieldChoice  FieldType = "choice"
)

var fieldTypes = []string{string(FieldText), string(FieldNumber), string(FieldBoolean), string(FieldDate), string(FieldChoice)}

// WorkOrderType is a work-order record type: what a WorkOrder run interprets. A work order runs
// through the type's nodes in order (or along their next/on... links); each node may put the order
// in one of the stages.
type WorkOrderType struct {
	Process `yaml:",inline"`
	// Intake lists the channels that may create work orders of this type.
	Intake []string `yaml:"intake" json:"intake,omitempty"`
	Nodes  []Node   `yaml:"nodes,required" json:"nodes"`
}

// Channels work orders can arrive by.
const (
	ChannelAgent         = "agent"
	ChannelDispatcher    = "dispatcher"
	ChannelOnlineService = "online-service"
	ChannelPortal        = "portal"
	ChannelGuest         = "guest"
	ChannelDevice        = "device"
	ChannelEmail         = "email"
	ChannelAPI           = "api"
)

var intakeChannels = []string{ChannelAgent, ChannelDispatcher, ChannelOnlineService, ChannelPortal, ChannelGuest, ChannelDevice, ChannelEmail, ChannelAPI}

// NodeType names what a node does.
type NodeType string

// The node types.
const (
	NodeStage      NodeType = "stage"
	NodeApproval   NodeType = "approval"
	NodeAssignment NodeType = "assignment"
	NodeAcceptance NodeType = "acceptance"
	NodeChecklist  NodeType = "checklist"
	NodeRating     NodeType = "rating"
	NodeFollowUp   NodeType = "follow_up"
	NodeNotify     NodeType = "notify"
	NodeWebhook    NodeType = "webhook"
	NodeConvert    NodeType = "convert"
	NodeDecision   NodeType = "decision"
	NodeTimer      NodeType = "timer"
	NodeEnd        NodeType = "end"
)

// nodeTypes lists every node type with the fields it may use beyond the common ones (id, type,
// stage, next, when).
var nodeTypes = []struct {
	Type   NodeType
	Fields []string
	// Waits is true for nodes that wait for someone or something: a cycle needs one of them.
	Waits bool
}{
	{NodeStage, nil, true},
	{NodeApproval, []string{"approvers", "mode", "timeout", "onTimeout", "onReject"}, true},
	{NodeAssignment, []string{"path", "rules", "strategy", "group"}, true},
	{NodeAcceptance, []string{"timeout", "onDecline", "onTimeout", "maxOffers", "onExhausted"}, true},
	{NodeChecklist, []string{"steps"}, true},
	{NodeRating, []string{"scale", "mandatory", "multiple", "autoComplete", "invite", "rules", "template", "allowSkip"}, true},
	{NodeFollowUp, []string{"agents", "rules", "template", "timeout"}, true},
	{NodeNotify, []string{"template", "to", "channels"}, false},
	{NodeWebhook, []string{"url", "secretEnv"}, false},
	{NodeConvert, []string{"recordType", "map"}, false},
	{NodeDecision, []string{"cases", "default"}, false},
	{NodeTimer, []string{"duration"}, true},
	{NodeEnd, []string{"resolved"}, false},
}

// Node is one step of a work order's process. The common fields come first; the others belong to
// particular types (see nodeTypes), and validation refuses a field the node's type does not use.
type Node struct {
	ID    string   `yaml:"id,required" json:"id"`
	Type  NodeType `yaml:"type,required" json:"type"`
	Stage string   `yaml:"stage" json:"stage,omitempty"`
	// Next is the node that follows; the next one in the list when empty.
	Next string `yaml:"next" json:"next,omitempty"`
	// When skips the node (on to Next) when it is false.
	When Expr `yaml:"when" json:"when,omitempty"`

	// approval
	Approvers []Approver   `yaml:"approvers" json:"approvers,omitempty"`
	Mode      ApprovalMode `yaml:"mode" json:"mode,omitempty"`
	OnReject  string       `yaml:"onReject" json:"onReject,omitempty"`

	// approval, acceptance, follow_up
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// OnTimeout: for an approval, approve or reject; for an acceptance, the node to go back to.
	OnTimeout string `yaml:"onTimeout" json:"onTimeout,omitempty"`

	// assignment
	Path     []string     `yaml:"path" json:"path,omitempty"`
	Rules    []NodeRule   `yaml:"rules" json:"rules,omitempty"`
	Strategy string       `yaml:"strategy" json:"strategy,omitempty"`
	Group    Text         `yaml:"group" json:"group,omitempty"`
	Agents   *AgentPolicy `yaml:"agents" json:"agents,omitempty"`

	// acceptance
	OnDecline   string      `yaml:"onDecline" json:"onDecline,omitempty"`
	MaxOffers   int         `yaml:"maxOffers" json:"maxOffers,omitempty"`
	OnExhausted *Escalation `yaml:"onExhausted" json:"onExhausted,omitempty"`

	// checklist
	Steps []ChecklistStep `yaml:"steps" json:"steps,omitempty"`

	// rating
	Scale        string   `yaml:"scale" json:"scale,omitempty"`
	Mandatory    bool     `yaml:"mandatory" json:"mandatory,omitempty"`
	Multiple     bool     `yaml:"multiple" json:"multiple,omitempty"`
	AutoComplete Duration `yaml:"autoComplete" json:"autoComplete,omitempty"`
	Invite       *Invite  `yaml:"invite" json:"invite,omitempty"`
	AllowSkip    bool     `yaml:"allowSkip" json:"allowSkip,omitempty"`

	// rating, follow_up, notify
	Template string `yaml:"template" json:"template,omitempty"`

	// notify
	To       []string `yaml:"to" json:"to,omitempty"`
	Channels []string `yaml:"channels" json:"channels,omitempty"`

	// webhook
	URL       Text   `yaml:"url" json:"url,omitempty"`
	SecretEnv string `yaml:"secretEnv" json:"secretEnv,omitempty"`

	// convert
	RecordType string          `yaml:"recordType" json:"recordType,omitempty"`
	Map        map[string]Text `yaml:"map" json:"map,omitempty"`

	// decision
	Cases   []Case `yaml:"cases" json:"cases,omitempty"`
	Default string `yaml:"default" json:"default,omitempty"`

	// timer
	Duration Duration `yaml:"duration" json:"duration,omitempty"`

	// end
	Resolved *bool `yaml:"resolved" json:"resolved,omitempty"`
}

// NodeRule is a rule of an assignment, rating or follow-up node: the first whose condition holds
// gives the group, engineer, user or template.
type NodeRule struct {
	When     Expr   `yaml:"when,required" json:"when"`
	Group    Text   `yaml:"group" json:"group,omitempty"`
	Engineer Text   `yaml:"engineer" json:"engineer,omitempty"`
	User     Text   `yaml:"user" json:"user,omitempty"`
	Template string `yaml:"template" json:"template,omitempty"`
}

// AgentPolicy picks a follow-up agent: a fixed user or group, or round robin over a group.
type AgentPolicy struct {
	User       string      `yaml:"user" json:"user,omitempty"`
	Group      string      `yaml:"group" json:"group,omitempty"`
	RoundRobin *RoundRobin `yaml:"roundRobin" json:"roundRobin,omitempty"`
}

// RoundRobin takes the members of a group in turn.
type RoundRobin struct {
	Group string `yaml:"group,required" json:"group"`
}

// Escalation says what happens when an acceptance runs out of offers.
type Escalation struct {
	// Escalate hands the order to a role's to-do pool (dispatcher, supervisor).
	Escalate string `yaml:"escalate" json:"escalate,omitempty"`
	// Next goes on to a node instead.
	Next string `yaml:"next" json:"next,omitempty"`
}

// ChecklistStep is one step of an on-site checklist.
type ChecklistStep struct {
	ID         string `yaml:"id,required" json:"id"`
	Title      string `yaml:"title,required" json:"title"`
	LaborTime  bool   `yaml:"laborTime" json:"laborTime,omitempty"`
	Required   bool   `yaml:"required" json:"required,omitempty"`
	Attachment bool   `yaml:"attachment" json:"attachment,omitempty"`
	// When: the step applies only when this holds (it may refer to earlier steps).
	When Expr `yaml:"when" json:"when,omitempty"`
}

// Invite says how a rating node invites customers.
type Invite struct {
	Channels []string `yaml:"channels,required" json:"channels"`
	// Priority tries the channels in order and stops at the first that succeeds.
	Priority bool   `yaml:"priority" json:"priority,omitempty"`
	Template string `yaml:"template,required" json:"template"`
}

// Case is one branch of a decision node.
type Case struct {
	When Expr   `yaml:"when,required" json:"when"`
	Next string `yaml:"next,required" json:"next"`
}

// StageIndex returns the position of a stage, or -1.
func (p *Process) StageIndex(id string) int {
	for i, s := range p.Stages {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// StageByID returns the stage with the given id.
func (p *Process) StageByID(id string) (Stage, bool) {
	if i := p.StageIndex(id); i >= 0 {
		return p.Stages[i], true
	}
	return Stage{}, false
}

// PriorityOf looks up the priority of an impact and urgency; ok is false for unknown levels.
func (p *Process) PriorityOf(impact, urgency string) (string, bool) {
	return p.Priority.PriorityOf(impact, urgency)
}

// priorityFor fills in the default impact and urgency and looks up the priority.
func (p *Process) priorityFor(impact, urgency string) (string, string, string) {
	if impact == "" {
		impact = p.Priority.Default.Impact
	}
	if urgency == "" {
		urgency = p.Priority.Default.Urgency
	}
	priority, _ := p.PriorityOf(impact, urgency)
	return impact, urgency, priority
}

// NodeIndex returns the position of a node, or -1.
func (w *WorkOrderType) NodeIndex(id string) int {
	for i, n := range w.Nodes {
		if n.ID == id {
			return i
		}
	}
	return -1
}

// DefaultNumbering is the numbering scheme of a queue that declares none.
const DefaultNumbering = "SR-{yyyy}-{seq:6}"

// DefaultWorkOrderNumbering is the numbering scheme of a work-order type that declares none.
const DefaultWorkOrderNumbering = "WO-{yyyy}-{seq:6}"

// applyDefaults fills what a designer may leave out.
func (p *Process) applyDefaults(numbering string) {
	if p.Title == "" {
		p.Title = p.Key
	}
	if p.Numbering == "" {
		p.Numbering = numbering
	}
	if p.Priority.Matrix == nil {
		p.Priority.Matrix = defaultMatrix()
	}
	if p.Priority.Default.Impact == "" {
		p.Priority.Default.Impact = "medium"
	}
	if p.Priority.Default.Urgency == "" {
		p.Priority.Default.Urgency = "medium"
	}
	if len(p.Priority.Levels) == 0 {
		p.Priority.Levels = p.Priority.derivedLevels()
	}
	for i := range p.Stages {
		if p.Stages[i].Title == "" {
			p.Stages[i].Title = p.Stages[i].ID
		}
	}
}
