package process

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// shippedFiles returns the shipped definitions as file → text, so a test can break one of them.
func shippedFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, f := range []string{
		"calendars/office.yaml", "templates/sr-alert.yaml", "templates/sr-breach.yaml", "templates/sr-closed.yaml",
		"templates/wo-visit.yaml", "templates/rating-invite.yaml", "templates/repair-survey.yaml",
		"templates/standard-survey.yaml", "templates/follow-up-survey.yaml",
		"service-requests/billing.yaml", "work-orders/repair.yaml",
	} {
		raw, err := os.ReadFile("../definitions/" + f)
		require.NoError(t, err)
		files[f] = raw
	}
	return files
}

// TestValidationMessages breaks one rule at a time in a shipped definition and checks the one
// message, with its position, that the designer gets.
func TestValidationMessages(t *testing.T) {
	cases := []struct {
		name, file, old, new string
		want                 string
	}{
		{"unknown calendar", "service-requests/billing.yaml", "calendar: office", "calendar: ofice",
			`service-requests/billing.yaml:8:11: calendar "ofice" is not defined in definitions/calendars (did you mean "office"?)`},
		{"unknown template", "service-requests/billing.yaml", "template: sr-closed", "template: sr-close",
			`service-requests/billing.yaml:37:30: MessageTemplate "sr-close" is not defined in definitions/templates (did you mean "sr-closed"?)`},
		{"template of the wrong kind", "service-requests/billing.yaml", "template: sr-closed", "template: repair-survey",
			`service-requests/billing.yaml:37:30: "repair-survey" is a RatingTemplate; a MessageTemplate is needed here`},
		{"SLA for an undefined priority", "service-requests/billing.yaml", "low: 5d}", "urgent: 5d}",
			`service-requests/billing.yaml:18:54: sla.completion has a target for "urgent", which is not a priority of this process (critical, high, medium, low)`},
		{"business time without a calendar", "service-requests/billing.yaml", "calendar: office\n", "",
			`service-requests/billing.yaml:16:49: 4bh counts business time, which needs a calendar: add "calendar: office" (or another calendar) to the definition`},
		{"approval without a timeout", "service-requests/billing.yaml", "      timeout: 2d\n", "",
			`service-requests/billing.yaml:28:7: stages[2].approval: missing required field "timeout"`},
		{"approval mode", "service-requests/billing.yaml", "mode: any", "mode: most",
			`service-requests/billing.yaml:30:13: mode "most": use any, all, or quorum:N`},
		{"quorum larger than the approvers", "service-requests/billing.yaml", "mode: any", "mode: quorum:3",
			`service-requests/billing.yaml:30:13: mode quorum:3 needs 3 approvals but there are only 2 approvers`},
		{"unknown role", "service-requests/billing.yaml", "{role: supervisor}, {contact: true}", "{role: manager}, {contact: true}",
			`service-requests/billing.yaml:29:26: "manager" is not a role (admin, designer, supervisor, agent, dispatcher, engineer, followup)`},
		{"expression that does not compile", "service-requests/billing.yaml", `"= request.charges.total > 100"`, `"= request.charges.totl > 100"`,
			`service-requests/billing.yaml:28:13: expression "request.charges.totl > 100": type process.ChargesView has no field totl (1:17) (a condition must give true or false)`},
		{"expression of the wrong type", "service-requests/billing.yaml", `"= request.charges.total > 100"`, `"= request.charges.total"`,
			`service-requests/billing.yaml:28:13: expression "request.charges.total": expected bool, but got float64 (a condition must give true or false)`},
		{"now() is the run's time, not the clock", "service-requests/billing.yaml", `"= request.charges.total > 100"`, `"= now().Year() > 2000"`,
			`service-requests/billing.yaml:28:13: expression "now().Year() > 2000": now is the time of the run, not a function: write now without (), as in now.Hour() >= 17 (a condition must give true or false)`},
		{"automation on an unknown event", "service-requests/billing.yaml", "- on: closed", "- on: closd",
			`service-requests/billing.yaml:36:9: "closd" is not an event automations can react to (did you mean "closed"?)`},
		{"unknown recipient", "service-requests/billing.yaml", "to: [contact]", "to: [customer]",
			`service-requests/billing.yaml:37:46: "customer" is not a recipient: use owner, team, contact, assignee, engineer, group, dispatcher, approvers, or user:NAME, role:NAME, group:NAME`},
		{"move to a stage the queue lacks", "service-requests/billing.yaml", "do: [{notify: {template: sr-closed, to: [contact], channels: [email]}}]", "do: [{move: responce}]",
			`service-requests/billing.yaml:37:17: "responce" is not a stage of this queue (did you mean "response"?)`},
		{"move to a closing stage", "service-requests/billing.yaml", "do: [{notify: {template: sr-closed, to: [contact], channels: [email]}}]", "do: [{move: closed}]",
			`service-requests/billing.yaml:37:17: "closed" closes the request: an automation may not close it (closing needs a resolution)`},
		{"move in a work-order type", "work-orders/repair.yaml", "  completion: {critical: 8h, high: 2d, medium: 5d, low: 10d}\n", "  completion: {critical: 8h, high: 2d, medium: 5d, low: 10d}\n  onBreach: [{move: service}]\n",
			`work-orders/repair.yaml:19:21: in a work-order type, the nodes decide the stage; move is for service-request queues`},
		{"unknown node reference", "work-orders/repair.yaml", "onDecline: dispatch", "onDecline: dispach",
			`work-orders/repair.yaml:31:16: onDecline "dispach" is not a node of this process (did you mean "dispatch"?)`},
		{"duplicate node id", "work-orders/repair.yaml", "- id: on-the-way", "- id: accept",
			`work-orders/repair.yaml:35:9: node id "accept" is already used by nodes[1]`},
		{"field the node type does not use", "work-orders/repair.yaml", "    scale: five-star\n", "    scale: five-star\n    steps: []\n",
			`work-orders/repair.yaml:52:5: nodes[4]: a rating node does not use "steps"`},
		{"misspelled node type", "work-orders/repair.yaml", "type: checklist", "type: checklst",
			`work-orders/repair.yaml:41:11: node type "checklst" is not one of stage, approval, assignment, acceptance, checklist, rating, follow_up, notify, webhook, convert, decision, timer, end (did you mean "checklist"?)`},
		{"acceptance without a timeout", "work-orders/repair.yaml", "    timeout: 30bm\n", "",
			`work-orders/repair.yaml:28:5: a wait needs a timeout path: add "timeout" (for example 2d) and what happens then`},
		{"rating that could wait for ever", "work-orders/repair.yaml", "    autoComplete: 3d\n", "",
			`work-orders/repair.yaml:48:5: a rating that is not mandatory needs autoComplete (for example 3d): without it the order would wait forever for a customer who never rates`},
		{"unknown stage of a node", "work-orders/repair.yaml", "stage: service", "stage: servise",
			`work-orders/repair.yaml:42:12: stage "servise" is not a stage of this process (did you mean "service"?)`},
		{"unknown invite channel", "work-orders/repair.yaml", "channels: [wechat, sms, email, qr]", "channels: [wechat, sms, fax]",
			`work-orders/repair.yaml:56:31: "fax" is not a channel (qr, wechat, sms, email)`},
		{"unreachable node", "work-orders/repair.yaml", "    onExhausted: {escalate: dispatcher}\n", "    onExhausted: {escalate: dispatcher}\n    next: onsite\n",
			`work-orders/repair.yaml:36:5: node "on-the-way" can never be reached from the first node "dispatch"`},
		{"step expression referring to a field that does not exist", "work-orders/repair.yaml", `steps.diagnose.result != "no-fault"`, `steps.diagnose.outcome != "no-fault"`,
			`work-orders/repair.yaml:46:60: expression "steps.diagnose.outcome != \"no-fault\"": type process.StepView has no field outcome (1:16) (a condition must give true or false)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := shippedFiles(t)
			text := string(files[tc.file])
			require.Contains(t, text, tc.old, "the test's edit must apply")
			files[tc.file] = []byte(strings.Replace(text, tc.old, tc.new, 1))
			_, err := Load(files)
			require.Equal(t, []string{tc.want}, problemsOf(t, err))
		})
	}
}

func TestValidationTemplateVariables(t *testing.T) {
	files := shippedFiles(t)
	files["templates/sr-alert.yaml"] = []byte(strings.Replace(string(files["templates/sr-alert.yaml"]), "{{.Priority}}", "{{.Priorty}}", 1))
	_, err := Load(files)
	ps := problemsOf(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, "templates/sr-alert.yaml:6:7: body: {{.Priorty}} is not a variable; templates may use {{.Number}}, {{.Subject}}, {{.Priority}}, {{.Stage}}, {{.ContactName}}, {{.DueAt}}, {{.URL}}, {{.ContactEmail}}, {{.Owner}}, {{.ApprovalURL}}, {{.ApprovalExpires}}, {{.RatingURL}}, {{.RatingExpires}}", ps[0])
}

func TestValidationCycleWithoutAWait(t *testing.T) {
	files := shippedFiles(t)
	files["work-orders/loop.yaml"] = []byte(`apiVersion: fieldflow/v1
kind: WorkOrderType
key: loop
stages:
  - {id: new, state: new}
  - {id: closed, state: closed}
nodes:
  - id: check
    type: decision
    cases: [{when: "= order.priority == 'high'", next: tell}]
    default: done
  - id: tell
    type: notify
    template: wo-visit
    to: [contact]
    next: check
  - id: done
    type: end
`)
	_, err := Load(files)
	require.Equal(t, []string{`work-orders/loop.yaml:8:5: the nodes check → tell → check form a cycle that never waits (add a stage, timer or other waiting node to it)`}, problemsOf(t, err))
}

func TestValidationLastNodeAndEnd(t *testing.T) {
	files := shippedFiles(t)
	files["work-orders/open.yaml"] = []byte(`apiVersion: fieldflow/v1
kind: WorkOrderType
key: open
stages:
  - {id: new, state: new}
  - {id: closed, state: closed}
nodes:
  - {id: wait, type: timer, duration: 1h}
`)
	_, err := Load(files)
	require.Equal(t, []string{
		`work-orders/open.yaml:8:3: a work-order process needs a node of type end`,
		`work-orders/open.yaml:8:5: the last node "wait" has no next: end the process with a node of type end, or give next`,
	}, problemsOf(t, err))
}

func TestValidationConvertNeedsAWorkOrderType(t *testing.T) {
	files := shippedFiles(t)
	files["service-requests/billing.yaml"] = []byte(strings.Replace(string(files["service-requests/billing.yaml"]),
		"  - on: closed\n", "  - on: created\n    do: [{convert: {recordType: repairs, map: {subjekt: \"= request.subject\"}}}]\n  - on: closed\n", 1))
	_, err := Load(files)
	require.Equal(t, []string{
		`service-requests/billing.yaml:37:33: work-order type "repairs" is not defined in definitions/work-orders (did you mean "repair"?)`,
		`service-requests/billing.yaml:37:48: "subjekt" is not a work-order field (subject, description, region, account, impact, urgency, contact.name, contact.email, contact.phone, device.code, device.category, device.model, device.serial, or fields.NAME) (did you mean "subject"?)`,
	}, problemsOf(t, err))
}

func TestVersionChangesWithTheCalendar(t *testing.T) {
	files := shippedFiles(t)
	before, err := Load(files)
	require.NoError(t, err)
	files["calendars/office.yaml"] = []byte(strings.Replace(string(files["calendars/office.yaml"]), `friday: ["09:00-17:00"]`, `friday: ["09:00-13:00"]`, 1))
	after, err := Load(files)
	require.NoError(t, err)
	b1, _ := before.Queue("billing")
	b2, _ := after.Queue("billing")
	require.NotEqual(t, b1.Version, b2.Version, "a process pins its calendar: changing the calendar is a new version")
	require.Equal(t, "13:00", b2.CalendarDef.Hours.Friday[0].String()[6:])
}
