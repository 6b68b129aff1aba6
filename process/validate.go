package process

import (
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// checker collects the problems of one definition file. Paths name values as the decoder recorded
// them ("nodes[2].timeout"); a problem lands on the closest position it knows.
type checker struct {
	src      sourceMap
	problems Problems
	refs     *references
	env      envKind
}

// references are the other definitions a process may refer to.
type references struct {
	calendars      map[string]*Calendar
	templates      map[string]*Template
	workOrderTypes map[string]bool
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Position: c.src.at(path), Message: fmt.Sprintf(format, args...)})
}

// addKey reports a problem at a mapping key (an unknown priority in an SLA, for example).
func (c *checker) addKey(path, format string, args ...any) {
	pos, ok := c.src[path+keySuffix]
	if !ok {
		pos = c.src.at(path)
	}
	c.problems = append(c.problems, Problem{Position: pos, Message: fmt.Sprintf(format, args...)})
}

// set reports whether the definition gave a value at path.
func (c *checker) set(path string) bool {
	_, ok := c.src[path]
	return ok
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

func (c *checker) header(h Header) {
	if h.APIVersion != "" && h.APIVersion != APIVersion {
		c.add("apiVersion", "apiVersion %q is not supported; use %q", h.APIVersion, APIVersion)
	}
	if h.Key != "" && !idPattern.MatchString(h.Key) {
		c.add("key", "key %q must start with a lower-case letter and use only a-z, 0-9, - and _", h.Key)
	}
}

// expr checks that a condition compiles and yields true or false.
func (c *checker) expr(path string, e Expr) {
	if e == "" {
		return
	}
	if _, err := compileExpr(c.env, resultBool, e.Code()); err != nil {
		c.add(path, "%v (a condition must give true or false)", err)
	}
}

// text checks a literal-or-expression value; an expression must yield text.
func (c *checker) text(path string, t Text) {
	if !t.IsExpr() {
		return
	}
	if _, err := compileExpr(c.env, resultString, t.Code()); err != nil {
		c.add(path, "%v (this value must be text)", err)
	}
}

// duration checks that a business duration has a calendar to count on.
func (c *checker) duration(path string, d Duration, p *Process) {
	if d.Business && p.Calendar == "" {
		c.add(path, "%s counts business time, which needs a calendar: add \"calendar: office\" (or another calendar) to the definition", d)
	}
}

func (c *checker) process(p *Process) {
	c.header(p.Header)
	if _, err := ParseNumbering(p.Numbering); err != nil {
		c.add("numbering", "numbering: %v", err)
	}
	if p.Calendar != "" {
		if _, ok := c.refs.calendars[p.Calendar]; !ok {
			c.add("calendar", "calendar %q is not defined in definitions/calendars%s", p.Calendar, suggest(p.Calendar, sortedKeys(c.refs.calendars)))
		}
	}
	c.stages(p)
	c.priority(p)
	c.sla(p)
	for i, a := range p.Automations {
		path := fmt.Sprintf("automations[%d]", i)
		if a.On != "" && !slices.Contains(automationTriggers, a.On) {
			names := make([]string, len(automationTriggers))
			for i, t := range automationTriggers {
				names[i] = string(t)
			}
			c.add(path+".on", "%q is not an event automations can react to%s", a.On, suggest(string(a.On), names))
		}
		c.expr(path+".when", a.When)
		if len(a.Do) == 0 {
			c.add(path+".do", "an automation needs at least one action")
		}
		c.actions(path+".do", a.Do, p)
	}
}

func (c *checker) stages(p *Process) {
	seen := map[string]int{}
	var newStages, closedStages []int
	for i, s := range p.Stages {
		path := fmt.Sprintf("stages[%d]", i)
		if s.ID != "" && !idPattern.MatchString(s.ID) {
			c.add(path+".id", "stage id %q must start with a lower-case letter and use only a-z, 0-9, - and _", s.ID)
		}
		if j, dup := seen[s.ID]; dup && s.ID != "" {
			c.add(path+".id", "stage id %q is already used by stages[%d]", s.ID, j)
		}
		seen[s.ID] = i
		switch s.State {
		case StateNew:
			newStages = append(newStages, i)
		case StateClosed:
			closedStages = append(closedStages, i)
		case StateInProgress, "":
		default:
			c.add(path+".state", "stage state %q is not one of new, in_progress, closed%s", s.State,
				suggest(string(s.State), []string{"new", "in_progress", "closed"}))
		}
	}
	if len(p.Stages) == 0 {
		c.add("stages", "a process needs stages: one new, any number in_progress, one closed")
		return
	}
	switch {
	case len(newStages) == 0:
		c.add("stages", "a process needs exactly one stage with state new; it has none")
	case len(newStages) > 1:
		c.add(fmt.Sprintf("stages[%d].state", newStages[1]), "a process has exactly one stage with state new; %q is the second", p.Stages[newStages[1]].ID)
	case newStages[0] != 0:
		c.add(fmt.Sprintf("stages[%d]", newStages[0]), "the new stage %q must come first", p.Stages[newStages[0]].ID)
	}
	last := len(p.Stages) - 1
	switch {
	case len(closedStages) == 0:
		c.add("stages", "a process needs exactly one stage with state closed; it has none")
	case len(closedStages) > 1:
		c.add(fmt.Sprintf("stages[%d].state", closedStages[1]), "a process has exactly one stage with state closed; %q is the second", p.Stages[closedStages[1]].ID)
	case closedStages[0] != last:
		c.add(fmt.Sprintf("stages[%d]", closedStages[0]), "the closed stage %q must come last", p.Stages[closedStages[0]].ID)
	}
	for i, s := range p.Stages {
		if s.Approval == nil {
			continue
		}
		path := fmt.Sprintf("stages[%d].approval", i)
		if p.Kind == KindWorkOrderType {
			c.add(path, "in a work-order type, approvals are nodes (type: approval), not part of a stage")
			continue
		}
		if i >= last-1 {
			c.add(path, "stage %q is left only by closing, which approvals do not gate; put the approval on an earlier stage", s.ID)
		}
		c.approval(path, *s.Approval, p)
	}
}

func (c *checker) approval(path string, a Approval, p *Process) {
	c.expr(path+".when", a.When)
	c.approvers(path+".approvers", a.Approvers)
	if !a.Mode.valid() {
		c.add(path+".mode", "mode %q: use any, all, or quorum:N", a.Mode)
	} else if q := a.Mode.Quorum(len(a.Approvers)); q > len(a.Approvers) {
		c.add(path+".mode", "mode %s needs %d approvals but there are only %d approvers", a.Mode, q, len(a.Approvers))
	}
	c.timeout(path, a.Timeout, p)
	c.templateRef(path+".template", a.Template, KindMessageTemplate)
	if a.Template != "" && !slices.ContainsFunc(a.Approvers, func(ap Approver) bool { return ap.Contact }) {
		c.add(path+".template", "the template is the contact's message with the approval link; add {contact: true} to the approvers or remove it")
	}
	if a.OnTimeout != "" && a.OnTimeout != "approve" && a.OnTimeout != "reject" {
		c.add(path+".onTimeout", "onTimeout %q: say approve or reject%s", a.OnTimeout, suggest(a.OnTimeout, []string{"approve", "reject"}))
	}
}

// timeout checks a wait's required timeout.
func (c *checker) timeout(path string, d Duration, p *Process) {
	if d.IsZero() {
		if !c.set(path + ".timeout") {
			c.add(path, "a wait needs a timeout path: add \"timeout\" (for example 2d) and what happens then")
		}
		return
	}
	c.duration(path+".timeout", d, p)
}

var approverRoles = []string{"admin", "designer", "supervisor", "agent", "dispatcher", "engineer", "followup"}

func (c *checker) approvers(path string, as []Approver) {
	if len(as) == 0 {
		c.add(path, "an approval needs at least one approver (role, group, user, or contact: true)")
	}
	for i, a := range as {
		p := fmt.Sprintf("%s[%d]", path, i)
		n := 0
		for _, set := range []bool{a.Role != "", a.Group != "", a.User != "", a.Contact} {
			if set {
				n++
			}
		}
		if n != 1 {
			c.add(p, "an approver is exactly one of role, group, user or contact: true")
		}
		if a.Role != "" && !slices.Contains(approverRoles, a.Role) {
			c.add(p+".role", "%q is not a role (%s)%s", a.Role, strings.Join(approverRoles, ", "), suggest(a.Role, approverRoles))
		}
	}
}

func (c *checker) priority(p *Process) {
	m := p.Priority.Matrix
	impacts := sortedKeys(m)
	if len(impacts) == 0 {
		c.add("priority.matrix", "the priority matrix is empty")
		return
	}
	urgencies := p.Priority.Urgencies()
	for _, impact := range impacts {
		for _, urgency := range urgencies {
			pr, ok := m[impact][urgency]
			switch {
			case !ok:
				c.add("priority.matrix."+impact, "the priority matrix has no priority for impact %q and urgency %q", impact, urgency)
			case pr == "":
				c.add("priority.matrix."+impact+"."+urgency, "the priority for impact %q and urgency %q is empty", impact, urgency)
			case c.set("priority.levels") && !slices.Contains(p.Priority.Levels, pr):
				c.add("priority.matrix."+impact+"."+urgency, "priority %q is not in priority.levels (%s)", pr, strings.Join(p.Priority.Levels, ", "))
			}
		}
	}
	if d := p.Priority.Default; m[d.Impact] == nil {
		c.add("priority.default.impact", "default impact %q is not in the matrix (%s)%s", d.Impact, strings.Join(impacts, ", "), suggest(d.Impact, impacts))
	} else if !slices.Contains(urgencies, d.Urgency) {
		c.add("priority.default.urgency", "default urgency %q is not in the matrix (%s)%s", d.Urgency, strings.Join(urgencies, ", "), suggest(d.Urgency, urgencies))
	}
}

func (c *checker) sla(p *Process) {
	if p.SLA == nil {
		return
	}
	levels := p.Priority.Levels
	for _, block := range []struct {
		name    string
		targets map[string]Duration
	}{{"alert", p.SLA.Alert}, {"completion", p.SLA.Completion}} {
		for _, pr := range sortedKeys(block.targets) {
			path := "sla." + block.name + "." + pr
			if !slices.Contains(levels, pr) {
				c.addKey(path, "sla.%s has a target for %q, which is not a priority of this process (%s)%s", block.name, pr, strings.Join(levels, ", "), suggest(pr, levels))
				continue
			}
			c.duration(path, block.targets[pr], p)
		}
	}
	for i, s := range p.SLA.PauseIn {
		path := fmt.Sprintf("sla.pauseIn[%d]", i)
		stage, ok := p.StageByID(s)
		switch {
		case !ok:
			c.add(path, "stage %q is not a stage of this process%s", s, suggest(s, stageIDs(p)))
		case stage.State != StateInProgress:
			c.add(path, "the clock can pause only in in_progress stages; %q is %s", s, stage.State)
		}
	}
	c.actions("sla.onAlert", p.SLA.OnAlert, p)
	c.actions("sla.onBreach", p.SLA.OnBreach, p)
}

func stageIDs(p *Process) []string {
	ids := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		ids[i] = s.ID
	}
	return ids
}

var recipientWords = []string{"owner", "team", "contact", "assignee", "engineer", "group", "dispatcher", "approvers"}
var messageChannels = []string{"email", "sms", "wechat"}
var inviteChannels = []string{"qr", "wechat", "sms", "email"}

func (c *checker) actions(path string, actions []AutomationAction, p *Process) {
	for i, a := range actions {
		ap := fmt.Sprintf("%s[%d]", path, i)
		n := 0
		for _, set := range []bool{a.Notify != nil, a.Webhook != nil, a.Convert != nil, a.Activity != nil, a.Approval != nil, a.Move != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			c.add(ap, "an action is exactly one of notify, webhook, convert, activity, approval or move")
			continue
		}
		switch {
		case a.Notify != nil:
			c.notify(ap+".notify", a.Notify.Template, a.Notify.To, a.Notify.Channels)
		case a.Webhook != nil:
			c.webhook(ap+".webhook", a.Webhook.URL)
		case a.Convert != nil:
			c.convert(ap+".convert", a.Convert.RecordType, a.Convert.Map)
		case a.Activity != nil:
			c.duration(ap+".activity.due", a.Activity.Due, p)
			word, name, hasName := strings.Cut(a.Activity.To, ":")
			if !(a.Activity.To == "owner" || a.Activity.To == "team" || (hasName && name != "" && (word == "user" || word == "team"))) {
				c.add(ap+".activity.to", "%q: give the activity to owner, team, user:NAME or team:NAME", a.Activity.To)
			}
		case a.Approval != nil:
			if p.Kind == KindWorkOrderType {
				c.add(ap+".approval", "in a work-order type, approvals are nodes (type: approval)")
				continue
			}
			c.approval(ap+".approval", *a.Approval, p)
		case a.Move != "":
			c.move(ap+".move", a.Move, p)
		}
	}
}

// move checks a move action: service requests only, to a stage of the queue that does not close it.
func (c *checker) move(path, to string, p *Process) {
	if p.Kind == KindWorkOrderType {
		c.add(path, "in a work-order type, the nodes decide the stage; move is for service-request queues")
		return
	}
	stage, ok := p.StageByID(to)
	switch {
	case !ok:
		c.add(path, "%q is not a stage of this queue%s", to, suggest(to, stageIDs(p)))
	case stage.State == StateClosed:
		c.add(path, "%q closes the request: an automation may not close it (closing needs a resolution)", to)
	}
}

func (c *checker) notify(path, tmpl string, to, channels []string) {
	c.templateRef(path+".template", tmpl, KindMessageTemplate)
	if len(to) == 0 {
		c.add(path+".to", "say who receives it: owner, team, contact, assignee, group, dispatcher, user:NAME, role:NAME or group:NAME")
	}
	for i, r := range to {
		word, name, hasName := strings.Cut(r, ":")
		switch {
		case hasName && (word == "user" || word == "role" || word == "group") && name != "":
		case !hasName && slices.Contains(recipientWords, r):
		default:
			c.add(fmt.Sprintf("%s.to[%d]", path, i), "%q is not a recipient: use %s, or user:NAME, role:NAME, group:NAME%s", r, strings.Join(recipientWords, ", "), suggest(r, recipientWords))
		}
	}
	c.channels(path+".channels", channels, messageChannels)
}

func (c *checker) channels(path string, channels, allowed []string) {
	for i, ch := range channels {
		if !slices.Contains(allowed, ch) {
			c.add(fmt.Sprintf("%s[%d]", path, i), "%q is not a channel (%s)%s", ch, strings.Join(allowed, ", "), suggest(ch, allowed))
		}
	}
}

func (c *checker) templateRef(path, key string, kind Kind) {
	if key == "" {
		return
	}
	t, ok := c.refs.templates[key]
	if !ok {
		var same []string
		for _, k := range sortedKeys(c.refs.templates) {
			if c.refs.templates[k].Kind == kind {
				same = append(same, k)
			}
		}
		c.add(path, "%s %q is not defined in definitions/templates%s", kind, key, suggest(key, same))
		return
	}
	if t.Kind != kind {
		c.add(path, "%q is a %s; a %s is needed here", key, t.Kind, kind)
	}
}

func (c *checker) webhook(path string, u Text) {
	if u.IsExpr() {
		c.text(path+".url", u)
		return
	}
	parsed, err := url.Parse(string(u))
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		c.add(path+".url", "%q is not an http(s) URL", u)
	}
}

// convertFields are the work-order fields a conversion may fill.
var convertFields = []string{"subject", "description", "region", "account", "impact", "urgency", "contact.name", "contact.email", "contact.phone", "device.code", "device.category", "device.model", "device.serial"}

func (c *checker) convert(path, recordType string, m map[string]Text) {
	if !c.refs.workOrderTypes[recordType] {
		c.add(path+".recordType", "work-order type %q is not defined in definitions/work-orders%s", recordType, suggest(recordType, sortedKeys(c.refs.workOrderTypes)))
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(convertFields, k) && !strings.HasPrefix(k, "fields.") {
			c.addKey(path+".map."+k, "%q is not a work-order field (%s, or fields.NAME)%s", k, strings.Join(convertFields, ", "), suggest(k, convertFields))
		}
		c.text(path+".map."+k, m[k])
	}
}

func (c *checker) queue(q *Queue) {
	c.env = envServiceRequest
	c.process(&q.Process)
	seen := map[string]bool{}
	for i, cat := range q.Categories {
		if seen[cat] {
			c.add(fmt.Sprintf("categories[%d]", i), "category %q is listed twice", cat)
		}
		seen[cat] = true
	}
	targets := map[string]bool{}
	for i, cv := range q.Conversions {
		path := fmt.Sprintf("conversions[%d]", i)
		if targets[cv.RecordType] {
			c.add(path+".recordType", "a conversion to %q is declared twice", cv.RecordType)
		}
		targets[cv.RecordType] = true
		c.convert(path, cv.RecordType, cv.Map)
	}
	ids := map[string]bool{}
	for i, f := range q.Fields {
		path := fmt.Sprintf("fields[%d]", i)
		if f.ID != "" && !idPattern.MatchString(f.ID) {
			c.add(path+".id", "field id %q must start with a lower-case letter and use only a-z, 0-9, - and _", f.ID)
		}
		if ids[f.ID] {
			c.add(path+".id", "field id %q is declared twice", f.ID)
		}
		ids[f.ID] = true
		if f.Type != "" && !slices.Contains(fieldTypes, string(f.Type)) {
			c.add(path+".type", "field type %q: use %s%s", f.Type, strings.Join(fieldTypes, ", "), suggest(string(f.Type), fieldTypes))
		}
		if f.Type == FieldChoice && len(f.Options) < 2 {
			c.add(path+".options", "a choice field needs at least two options")
		}
		if f.Type != FieldChoice && len(f.Options) > 0 {
			c.add(path+".options", "only a choice field has options")
		}
	}
	c.intake(q)
	c.layout(q)
}

// intake checks a queue's intake settings: known channels, handlers for the requests customers
// leave unassigned, defaults the queue allows, rules that compile and give a team or an owner.
func (c *checker) intake(q *Queue) {
	in := q.Intake
	if in == nil {
		return
	}
	seen := map[string]bool{}
	for i, ch := range in.Channels {
		path := fmt.Sprintf("intake.channels[%d]", i)
		switch {
		case !slices.Contains(RequestChannels, ch):
			c.add(path, "%q is not a channel of service requests (%s)%s", ch, strings.Join(RequestChannels, ", "), suggest(ch, RequestChannels))
		case seen[ch]:
			c.add(path, "channel %q is listed twice", ch)
		}
		seen[ch] = true
	}
	customers := slices.ContainsFunc(in.Channels, IsCustomerChannel)
	if h := in.Handling; h != nil {
		for i, r := range h.Roles {
			if !slices.Contains(approverRoles, r) {
				c.add(fmt.Sprintf("intake.handling.roles[%d]", i), "%q is not a role (%s)%s", r, strings.Join(approverRoles, ", "), suggest(r, approverRoles))
			}
		}
		for i, g := range h.Groups {
			if !idPattern.MatchString(g) {
				c.add(fmt.Sprintf("intake.handling.groups[%d]", i), "group %q must start with a lower-case letter and use only a-z, 0-9, - and _", g)
			}
		}
		if len(h.Roles) == 0 && len(h.Groups) == 0 {
			c.add("intake.handling", "handling names the roles, the groups, or both whose members claim unassigned requests")
		}
	}
	d := in.Defaults
	if customers && (in.Handling == nil || len(in.Handling.Roles)+len(in.Handling.Groups) == 0) && (d == nil || (d.Owner == "" && d.Team == "")) {
		c.add("intake.channels", "requests from customers (%s) that no rule routes wait unassigned for a handler to claim them: "+
			"add handling: {roles: [agent]} (or groups), or a default owner or team", strings.Join(CustomerChannels, ", "))
	}
	if !customers && (d != nil || len(in.Rules) > 0) {
		what := "rules"
		if d != nil {
			what = "defaults"
		}
		c.add("intake."+what, "%s apply to requests from customers (%s), and this queue takes none: add one to intake.channels", what, strings.Join(CustomerChannels, ", "))
	}
	if d != nil {
		if d.Impact != "" && q.Priority.Matrix != nil && q.Priority.Matrix[d.Impact] == nil {
			c.add("intake.defaults.impact", "%q is not an impact level of the priority matrix%s", d.Impact, suggest(d.Impact, sortedKeys(q.Priority.Matrix)))
		}
		if d.Urgency != "" && q.Priority.Matrix != nil {
			impact := d.Impact
			if q.Priority.Matrix[impact] == nil {
				impact = q.Priority.Default.Impact
			}
			if _, ok := q.Priority.Matrix[impact][d.Urgency]; !ok {
				c.add("intake.defaults.urgency", "%q is not an urgency level of the priority matrix", d.Urgency)
			}
		}
		for i, cat := range d.Categories {
			if !categoryAllowed(q.Categories, cat) {
				c.add(fmt.Sprintf("intake.defaults.categories[%d]", i), "%q is not a category of the queue%s", cat, suggest(cat, q.Categories))
			}
		}
	}
	for i, r := range in.Rules {
		path := fmt.Sprintf("intake.rules[%d]", i)
		c.expr(path+".when", r.When)
		c.text(path+".team", r.Team)
		c.text(path+".owner", r.Owner)
		if r.Team == "" && r.Owner == "" {
			c.add(path, "an assignment rule gives a team, an owner, or both")
		}
	}
}

func (c *checker) workOrderType(w *WorkOrderType) {
	c.env = envWorkOrder
	c.process(&w.Process)
	for i, ch := range w.Intake {
		if !slices.Contains(intakeChannels, ch) {
			c.add(fmt.Sprintf("intake[%d]", i), "%q is not an intake channel (%s)%s", ch, strings.Join(intakeChannels, ", "), suggest(ch, intakeChannels))
		}
	}
	c.nodes(w)
}

// nodeTypeNames lists the node types, for messages.
func nodeTypeNames() []string {
	names := make([]string, len(nodeTypes))
	for i, t := range nodeTypes {
		names[i] = string(t.Type)
	}
	return names
}

func nodeTypeInfo(t NodeType) (fields []string, waits, ok bool) {
	for _, nt := range nodeTypes {
		if nt.Type == t {
			return nt.Fields, nt.Waits, true
		}
	}
	return nil, false, false
}

// commonNodeFields every node may use.
var commonNodeFields = []string{"id", "type", "stage", "next", "when"}

func (c *checker) nodes(w *WorkOrderType) {
	if len(w.Nodes) == 0 {
		c.add("nodes", "a work-order type needs nodes, ending with a node of type end")
		return
	}
	ids := map[string]int{}
	for i, n := range w.Nodes {
		path := fmt.Sprintf("nodes[%d]", i)
		if n.ID != "" && !idPattern.MatchString(n.ID) {
			c.add(path+".id", "node id %q must start with a lower-case letter and use only a-z, 0-9, - and _", n.ID)
		}
		if j, dup := ids[n.ID]; dup && n.ID != "" {
			c.add(path+".id", "node id %q is already used by nodes[%d]", n.ID, j)
		}
		ids[n.ID] = i
	}
	ref := func(path, id, what string) {
		if id == "" {
			return
		}
		if _, ok := ids[id]; !ok {
			c.add(path, "%s %q is not a node of this process%s", what, id, suggest(id, sortedKeys(ids)))
		}
	}
	hasEnd := false
	for i, n := range w.Nodes {
		path := fmt.Sprintf("nodes[%d]", i)
		fields, _, ok := nodeTypeInfo(n.Type)
		if !ok {
			if n.Type != "" {
				c.add(path+".type", "node type %q is not one of %s%s", n.Type, strings.Join(nodeTypeNames(), ", "), suggest(string(n.Type), nodeTypeNames()))
			}
			continue
		}
		c.nodeFieldsUsed(path, n.Type, fields)
		if n.Stage != "" {
			if _, ok := w.StageByID(n.Stage); !ok {
				c.add(path+".stage", "stage %q is not a stage of this process%s", n.Stage, suggest(n.Stage, stageIDs(&w.Process)))
			}
		}
		ref(path+".next", n.Next, "next")
		c.expr(path+".when", n.When)
		c.node(path, n, w, ref)
		if n.Type == NodeEnd {
			hasEnd = true
		}
		if i == len(w.Nodes)-1 && n.Next == "" && n.Type != NodeEnd && n.Type != NodeDecision {
			c.add(path, "the last node %q has no next: end the process with a node of type end, or give next", n.ID)
		}
	}
	if !hasEnd {
		c.add("nodes", "a work-order process needs a node of type end")
	}
	if len(c.problems) == 0 {
		c.graph(w)
	}
}

// nodeFieldsUsed refuses fields that the node's type does not use.
func (c *checker) nodeFieldsUsed(path string, t NodeType, fields []string) {
	for _, f := range yamlFields(nodeType) {
		if slices.Contains(commonNodeFields, f.name) || slices.Contains(fields, f.name) {
			continue
		}
		if p, ok := c.src[path+"."+f.name+keySuffix]; ok {
			c.problems = append(c.problems, Problem{Position: p, Message: fmt.Sprintf("%s: a %s node does not use %q", path, t, f.name)})
		}
	}
}

func (c *checker) node(path string, n Node, w *WorkOrderType, ref func(path, id, what string)) {
	p := &w.Process
	required := func(field string, ok bool) {
		if !ok {
			c.add(path, "a %s node needs %q", n.Type, field)
		}
	}
	switch n.Type {
	case NodeApproval:
		c.approvers(path+".approvers", n.Approvers)
		if !n.Mode.valid() {
			c.add(path+".mode", "mode %q: use any, all, or quorum:N", n.Mode)
		}
		c.timeout(path, n.Timeout, p)
		required("onTimeout", n.OnTimeout != "")
		if n.OnTimeout != "" && n.OnTimeout != "approve" && n.OnTimeout != "reject" {
			c.add(path+".onTimeout", "onTimeout %q: say approve or reject", n.OnTimeout)
		}
		required("onReject", n.OnReject != "")
		ref(path+".onReject", n.OnReject, "onReject")
	case NodeAssignment:
		validPaths := [][]string{{"dispatcher", "group", "engineer"}, {"dispatcher", "engineer"}, {"rules"}}
		if len(n.Path) > 0 && !slices.ContainsFunc(validPaths, func(v []string) bool { return slices.Equal(v, n.Path) }) {
			c.add(path+".path", "path %v: use [dispatcher, group, engineer], [dispatcher, engineer] or [rules]", n.Path)
		}
		if slices.Equal(n.Path, []string{"rules"}) && len(n.Rules) == 0 {
			c.add(path+".rules", "path [rules] needs rules")
		}
		for i, r := range n.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", path, i)
			c.expr(rp+".when", r.When)
			c.text(rp+".group", r.Group)
			c.text(rp+".engineer", r.Engineer)
			if r.Group == "" && r.Engineer == "" {
				c.add(rp, "an assignment rule gives a group, an engineer, or both")
			}
		}
		c.text(path+".group", n.Group)
		if n.Strategy != "" && !slices.Contains([]string{"round_robin", "least_loaded", "pool"}, n.Strategy) {
			c.add(path+".strategy", "strategy %q: use round_robin, least_loaded or pool%s", n.Strategy, suggest(n.Strategy, []string{"round_robin", "least_loaded", "pool"}))
		}
	case NodeAcceptance:
		c.timeout(path, n.Timeout, p)
		required("onDecline", n.OnDecline != "")
		required("onTimeout", n.OnTimeout != "")
		ref(path+".onDecline", n.OnDecline, "onDecline")
		ref(path+".onTimeout", n.OnTimeout, "onTimeout")
		if n.MaxOffers < 0 {
			c.add(path+".maxOffers", "maxOffers cannot be negative")
		}
		if n.OnExhausted != nil {
			if n.OnExhausted.Escalate == "" && n.OnExhausted.Next == "" {
				c.add(path+".onExhausted", "say escalate: ROLE, next: NODE, or both")
			}
			if e := n.OnExhausted.Escalate; e != "" && !slices.Contains(approverRoles, e) {
				c.add(path+".onExhausted.escalate", "%q is not a role (%s)", e, strings.Join(approverRoles, ", "))
			}
			ref(path+".onExhausted.next", n.OnExhausted.Next, "onExhausted.next")
		}
	case NodeChecklist:
		if len(n.Steps) == 0 {
			c.add(path+".steps", "a checklist needs steps")
		}
		seen := map[string]bool{}
		for i, s := range n.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", path, i)
			if seen[s.ID] {
				c.add(sp+".id", "step id %q is used twice", s.ID)
			}
			seen[s.ID] = true
			c.expr(sp+".when", s.When)
		}
	case NodeRating:
		scales := []string{"five-star", "ten-point"}
		switch {
		case n.Scale == "":
			c.add(path, "a rating node needs a scale: five-star or ten-point")
		case !slices.Contains(scales, n.Scale):
			c.add(path+".scale", "scale %q: use five-star or ten-point%s", n.Scale, suggest(n.Scale, scales))
		}
		if n.AutoComplete.IsZero() && !n.Mandatory {
			c.add(path, "a rating that is not mandatory needs autoComplete (for example 3d): without it the order would wait forever for a customer who never rates")
		}
		c.duration(path+".autoComplete", n.AutoComplete, p)
		if n.Invite != nil {
			c.channels(path+".invite.channels", n.Invite.Channels, inviteChannels)
			c.templateRef(path+".invite.template", n.Invite.Template, KindMessageTemplate)
		}
		c.templateRef(path+".template", n.Template, KindRatingTemplate)
		for i, r := range n.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", path, i)
			c.expr(rp+".when", r.When)
			if r.Template == "" {
				c.add(rp, "a rating rule gives a template")
			}
			c.templateRef(rp+".template", r.Template, KindRatingTemplate)
		}
	case NodeFollowUp:
		if n.Agents == nil && len(n.Rules) == 0 {
			c.add(path, "a follow-up node needs agents (user, group or roundRobin) or rules")
		}
		for i, r := range n.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", path, i)
			c.expr(rp+".when", r.When)
			c.text(rp+".user", r.User)
			c.text(rp+".group", r.Group)
		}
		c.templateRef(path+".template", n.Template, KindRatingTemplate)
		c.duration(path+".timeout", n.Timeout, p)
	case NodeNotify:
		required("template", n.Template != "")
		c.notify(path, n.Template, n.To, n.Channels)
	case NodeWebhook:
		required("url", n.URL != "")
		if n.URL != "" {
			c.webhook(path, n.URL)
		}
	case NodeConvert:
		required("recordType", n.RecordType != "")
		if n.RecordType != "" {
			c.convert(path, n.RecordType, n.Map)
		}
	case NodeDecision:
		if len(n.Cases) == 0 {
			c.add(path+".cases", "a decision needs cases: [{when, next}]")
		}
		for i, cs := range n.Cases {
			cp := fmt.Sprintf("%s.cases[%d]", path, i)
			c.expr(cp+".when", cs.When)
			ref(cp+".next", cs.Next, "next")
		}
		required("default", n.Default != "")
		ref(path+".default", n.Default, "default")
	case NodeTimer:
		required("duration", !n.Duration.IsZero())
		c.duration(path+".duration", n.Duration, p)
	}
}

// edges lists where a node may go next.
func (w *WorkOrderType) edges(n Node) []string {
	var out []string
	add := func(id string) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	// The node that follows in the list (or next): where the node goes when done, and where it
	// goes when its condition skips it.
	if (n.Type != NodeEnd && n.Type != NodeDecision) || n.When != "" {
		if n.Next != "" {
			add(n.Next)
		} else if i := w.NodeIndex(n.ID); i+1 < len(w.Nodes) {
			add(w.Nodes[i+1].ID)
		}
	}
	add(n.OnReject)
	add(n.OnDecline)
	if n.Type == NodeAcceptance {
		add(n.OnTimeout)
	}
	if n.OnExhausted != nil {
		add(n.OnExhausted.Next)
	}
	for _, cs := range n.Cases {
		add(cs.Next)
	}
	add(n.Default)
	return out
}

// graph finds unreachable nodes and cycles that never wait.
func (c *checker) graph(w *WorkOrderType) {
	reached := map[string]bool{}
	queue := []string{w.Nodes[0].ID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if reached[id] {
			continue
		}
		reached[id] = true
		queue = append(queue, w.edges(w.Nodes[w.NodeIndex(id)])...)
	}
	for i, n := range w.Nodes {
		if !reached[n.ID] {
			c.add(fmt.Sprintf("nodes[%d]", i), "node %q can never be reached from the first node %q", n.ID, w.Nodes[0].ID)
		}
	}
	// A cycle made only of nodes that do not wait would spin for ever.
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var visit func(id string, path []string) []string
	visit = func(id string, path []string) []string {
		n := w.Nodes[w.NodeIndex(id)]
		if _, waits, _ := nodeTypeInfo(n.Type); waits {
			return nil
		}
		switch state[id] {
		case onPath:
			return append(path, id)
		case done:
			return nil
		}
		state[id] = onPath
		for _, next := range w.edges(n) {
			if cycle := visit(next, append(path, id)); cycle != nil {
				return cycle
			}
		}
		state[id] = done
		return nil
	}
	for i, n := range w.Nodes {
		if state[n.ID] != unvisited {
			continue
		}
		if cycle := visit(n.ID, nil); cycle != nil {
			start := slices.Index(cycle, cycle[len(cycle)-1])
			c.add(fmt.Sprintf("nodes[%d]", i), "the nodes %s form a cycle that never waits (add a stage, timer or other waiting node to it)", strings.Join(cycle[start:], " → "))
			return
		}
	}
}

var nodeType = reflectTypeOf[Node]()

var unknownField = regexp.MustCompile(`can't evaluate field (\w+)`)

// messageVariables lists the variables of message templates: {{.Number}}, ….
func messageVariables() string {
	t := reflectTypeOf[MessageData]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = "{{." + t.Field(i).Name + "}}"
	}
	return strings.Join(names, ", ")
}

func (c *checker) template(t *Template) {
	c.header(t.Header)
	switch t.Kind {
	case KindMessageTemplate:
		if t.Body == "" {
			c.add("", "a message template needs a body")
		}
		for _, f := range []struct{ name, text string }{{"subject", t.Subject}, {"body", t.Body}} {
			tmpl, err := template.New(f.name).Option("missingkey=error").Parse(f.text)
			if err != nil {
				c.add(f.name, "%s is not a valid template: %s", f.name, strings.TrimPrefix(err.Error(), "template: "))
				continue
			}
			if err := tmpl.Execute(io.Discard, MessageData{}); err != nil {
				msg := strings.TrimPrefix(err.Error(), "template: ")
				if m := unknownField.FindStringSubmatch(msg); m != nil {
					msg = fmt.Sprintf("{{.%s}} is not a variable", m[1])
				}
				c.add(f.name, "%s: %s; templates may use %s", f.name, msg, messageVariables())
			}
		}
		if len(t.Questions) > 0 {
			c.add("questions", "questions belong in a RatingTemplate")
		}
	case KindRatingTemplate:
		if len(t.Questions) == 0 {
			c.add("questions", "a rating template needs questions")
		}
		seen := map[string]bool{}
		types := []string{"score", "text", "choice"}
		for i, q := range t.Questions {
			qp := fmt.Sprintf("questions[%d]", i)
			if seen[q.ID] {
				c.add(qp+".id", "question id %q is used twice", q.ID)
			}
			seen[q.ID] = true
			if q.Type != "" && !slices.Contains(types, q.Type) {
				c.add(qp+".type", "question type %q: use score, text or choice%s", q.Type, suggest(q.Type, types))
			}
			if q.Type == "choice" && len(q.Options) < 2 {
				c.add(qp+".options", "a choice question needs at least two options")
			}
		}
	}
}
