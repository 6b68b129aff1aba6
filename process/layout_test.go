package process

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// layoutFiles are the shipped files with the technical-support queue and what it names.
func layoutFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := shippedFiles(t)
	raw, err := os.ReadFile("../definitions/service-requests/technical-support.yaml")
	require.NoError(t, err)
	files["service-requests/technical-support.yaml"] = raw
	return files
}

func techSupportQueue(t *testing.T) *Queue {
	t.Helper()
	cat, err := Load(layoutFiles(t))
	require.NoError(t, err)
	q, ok := cat.Queue("technical-support")
	require.True(t, ok)
	return q
}

// TestLayoutValidationMessages breaks the shipped technical-support layout one rule at a time and
// checks the message, with its position.
func TestLayoutValidationMessages(t *testing.T) {
	const file = "service-requests/technical-support.yaml"
	cases := []struct{ name, old, new, want string }{
		{"unknown field", "{field: phone, label:", "{field: phon, label:",
			`service-requests/technical-support.yaml:76:13: "phon" is not a field of the customer form (subject, description, category, phone, urgency, or fields.ID) (did you mean "phone"?)`},
		{"unknown custom field", "{field: fields.contact-time}", "{field: fields.contact-tim}",
			`service-requests/technical-support.yaml:77:13: "fields.contact-tim" is not a custom field of the queue (declare it under fields:) (did you mean "fields.contact-time"?)`},
		{"field twice", "{field: fields.contact-time}", "{field: description}",
			`service-requests/technical-support.yaml:77:13: field "description" is on the layout twice`},
		{"no subject", `  - {field: subject, label: "What is wrong?", required: true}` + "\n", "",
			`service-requests/technical-support.yaml:69:3: every request has a subject: add {field: subject} to the layout`},
		{"category option not of the queue", "options: [connectivity/outage, connectivity/slow,", "options: [connectivity/outages, connectivity/slow,",
			`service-requests/technical-support.yaml:73:15: "connectivity/outages" is not a category of the queue (did you mean "connectivity/outage"?)`},
		{"options on a text field", `{field: fields.equipment-serial, hint:`, `{field: fields.equipment-serial, options: [a, b], hint:`,
			`service-requests/technical-support.yaml:75:47: only the category field has options (a custom choice field lists them under fields:)`},
		{"required custom field left out", "{id: contact-time, title: Best time to call you, type: choice,", "{id: contact-time, required: true, title: Best time to call you, type: choice,",
			""},
		{"required custom field missing", "  - {field: fields.contact-time}\n", "  - {field: fields.equipment-serial}\n",
			`service-requests/technical-support.yaml:77:13: field "fields.equipment-serial" is on the layout twice`},
		{"no customers", "channels: [agent, online-service, portal, guest]", "channels: [agent, online-service, email]",
			`service-requests/technical-support.yaml:69:3: the layout is the form customers fill on the portal, and this queue takes no requests from it: add portal or guest to intake.channels`},
		{"missing field key", "  - {field: fields.contact-time}\n", "  - {label: When}\n",
			`service-requests/technical-support.yaml:77:5: layout[5]: missing required field "field"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := layoutFiles(t)
			text := string(files[file])
			require.Contains(t, text, tc.old, "the test's edit must apply")
			files[file] = []byte(strings.Replace(text, tc.old, tc.new, 1))
			_, err := Load(files)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, []string{tc.want}, problemsOf(t, err))
		})
	}

	// A required custom field the layout does not ask for.
	files := layoutFiles(t)
	text := strings.Replace(string(files[file]), "{id: equipment-serial, title:", "{id: equipment-serial, required: true, title:", 1)
	files[file] = []byte(strings.Replace(text, "  - {field: fields.equipment-serial, hint: \"On the label under the device, if it is about equipment.\"}\n", "", 1))
	_, err := Load(files)
	require.Equal(t, []string{`service-requests/technical-support.yaml:69:3: custom field "equipment-serial" is required on every request, so the customer form must ask for it: add {field: fields.equipment-serial} to the layout`},
		problemsOf(t, err))
}

// TestCustomerFormFollowsTheLayout: the shipped layout gives the fields in its order, with its
// labels and the category options it names; a queue without a layout gets the default form.
func TestCustomerFormFollowsTheLayout(t *testing.T) {
	q := techSupportQueue(t)
	form := q.CustomerForm()
	var names []string
	for _, f := range form {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"subject", "category", "description", "fields.equipment-serial", "phone", "fields.contact-time"}, names)
	require.Equal(t, "What is wrong?", form[0].Label)
	require.True(t, form[0].Required)
	require.Equal(t, "choice", form[1].Input)
	require.True(t, form[1].Required)
	require.Equal(t, FormOption{Value: "connectivity/outage", Label: "Connectivity: outage"}, form[1].Options[0])
	require.Len(t, form[1].Options, 4, "only the categories the layout names")
	require.Equal(t, "Serial number of the equipment", form[3].Label)
	require.False(t, form[3].Required)
	require.Equal(t, []FormOption{{"morning", "morning"}, {"afternoon", "afternoon"}, {"evening", "evening"}}, form[5].Options)

	bare := *q
	bare.Layout = nil
	names = nil
	for _, f := range bare.CustomerForm() {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"subject", "description", "category", "phone", "fields.equipment-serial", "fields.contact-time"}, names)
}

// TestReadCustomerForm: required values, lengths and choices are checked, every problem named by
// its field; a good form gives the request's values.
func TestReadCustomerForm(t *testing.T) {
	q := techSupportQueue(t)
	_, errs := q.ReadCustomerForm(map[string]string{"subject": "  ", "category": "billing", "fields.contact-time": "night",
		"description": strings.Repeat("x", 5001)})
	require.Equal(t, []FieldError{
		{Field: "subject", Message: "is required"},
		{Field: "category", Message: "is not one of the choices"},
		{Field: "description", Message: "must be at most 5000 characters"},
		{Field: "fields.contact-time", Message: "is not one of the choices"},
	}, errs)

	_, errs = q.ReadCustomerForm(map[string]string{"subject": "No internet"})
	require.Equal(t, []FieldError{{Field: "category", Message: "is required"}}, errs)

	in, errs := q.ReadCustomerForm(map[string]string{"subject": " No internet ", "category": "connectivity/outage",
		"description": "Since 8am", "phone": "+357 99 123456", "fields.contact-time": "evening", "fields.equipment-serial": "SN-1"})
	require.Empty(t, errs)
	require.Equal(t, CustomerInput{Subject: "No internet", Description: "Since 8am", Phone: "+357 99 123456",
		Categories: []string{"connectivity/outage"}, Fields: map[string]any{"contact-time": "evening", "equipment-serial": "SN-1"}}, in)

	// The values go through creation as a customer's request: the rules route the outage.
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r1", Number: "TS-1", Queue: q.Key, Subject: in.Subject,
		Description: in.Description, Categories: in.Categories, Fields: in.Fields, Channel: ChannelGuest,
		Contact: Contact{Name: "Ada", Phone: in.Phone}}, "guest", t0)
	require.NoError(t, err)
	require.Equal(t, "network-ops", sr.Team)
	require.Equal(t, "evening", sr.Fields["contact-time"])
}

// TestCustomerComment: the contact's comment becomes a note by the contact and a
// customer_commented event with its text; an empty one is refused, and so is one on a closed
// request.
func TestCustomerComment(t *testing.T) {
	q := billingQueue(t)
	sr, _, err := CreateServiceRequest(q, customerRequest("invoice/copy"), "guest", t0)
	require.NoError(t, err)

	_, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionCustomerComment, Actor: CustomerActor, Comment: "  "}, t0)
	require.Equal(t, []FieldError{{Field: "comment", Message: "is required"}}, err.(*Error).Fields)
	_, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionCustomerComment, Actor: CustomerActor, Comment: strings.Repeat("é", MaxCustomerComment+1)}, t0)
	require.Equal(t, "comment", err.(*Error).Fields[0].Field)

	next, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionCustomerComment, Actor: CustomerActor, Comment: " The invoice is from March. "}, t0)
	require.NoError(t, err)
	require.Len(t, next.Notes, 1)
	require.Equal(t, "The invoice is from March.", next.Notes[0].Text)
	require.Equal(t, CustomerActor, next.Notes[0].By)
	ev := effects[0].(Emit).Event
	require.Equal(t, EventCustomerCommented, ev.Type)
	require.Equal(t, "The invoice is from March.", ev.Details["text"])
	require.True(t, next.Unassigned(), "a comment does not take the request from the pool")

	closed, _, err := ApplyServiceRequest(q, next, Action{Kind: ActionClose, Actor: "sup", ActorRoles: []string{"supervisor"}, Resolved: new(true)}, t0)
	require.NoError(t, err)
	_, _, err = ApplyServiceRequest(q, closed, Action{Kind: ActionCustomerComment, Actor: CustomerActor, Comment: "Hello?"}, t0)
	require.Equal(t, CodeNotAllowed, err.(*Error).Code)
}

// TestCustomerAnswerResumesWork: technical-support's automation puts a request that waits for its
// customer back in diagnosis when the customer comments, with the SLA clock running again; a
// comment in any other stage moves nothing.
func TestCustomerAnswerResumesWork(t *testing.T) {
	q := techSupportQueue(t)
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r1", Number: "TS-1", Queue: q.Key, Subject: "Router keeps rebooting",
		Contact: Contact{Name: "Ada", Email: "ada@example.com"}, Owner: "alice"}, "alice", t0)
	require.NoError(t, err)
	act := func(sr ServiceRequest, a Action) (ServiceRequest, []Event) {
		return mustApplySR(t, q, sr, a, t0.Add(time.Hour))
	}
	sr, _ = act(sr, Action{Kind: ActionProgress, Actor: "alice", ToStage: "diagnosis"})
	comment := Action{Kind: ActionCustomerComment, Actor: CustomerActor, Comment: "It happens at night."}
	sr, events := act(sr, comment)
	require.Equal(t, "diagnosis", sr.Stage, "not waiting for the customer: the comment moves nothing")
	require.Len(t, events, 1)

	sr, _ = act(sr, Action{Kind: ActionProgress, Actor: "alice", ToStage: "awaiting-customer"})
	require.Equal(t, SLAPaused, sr.SLA.Status)
	sr, events = act(sr, comment)
	require.Equal(t, "diagnosis", sr.Stage)
	require.Equal(t, SLAOK, sr.SLA.Status, "the clock runs again")
	require.Equal(t, []EventType{EventCustomerCommented, EventRegressed}, []EventType{events[0].Type, events[len(events)-1].Type})
	moved := events[len(events)-1]
	require.Equal(t, "automation", moved.Actor)
	require.Equal(t, map[string]any{"from": "awaiting-customer", "to": "diagnosis", "reason": "automation on customer_commented"}, moved.Details)
}

// TestAutomatedMoveForwardsAsksTheApproval: an automation's move forwards out of a stage that asks
// for an approval opens the approval instead of stepping around it, like an agent's progress.
func TestAutomatedMoveForwardsAsksTheApproval(t *testing.T) {
	q := billingQueue(t)
	move := func(to string) *Queue {
		q2 := *q
		q2.Automations = []Automation{{On: EventCustomerCommented, Do: []AutomationAction{{Move: to}}}}
		return &q2
	}
	sr := newRequest(t, q)
	agent := func(q *Queue, sr ServiceRequest, a Action) (ServiceRequest, []Event) {
		return mustApplySR(t, q, sr, a, t0.Add(time.Hour))
	}
	desc, qty, price := "Audit", 1.0, 500.0
	sr, _ = agent(q, sr, Action{Kind: ActionAddCharge, Actor: "alice", Charge: &ChargeInput{Kind: ChargeService, Description: &desc, Quantity: &qty, UnitPrice: &price}})
	sr, _ = agent(q, sr, Action{Kind: ActionProgress, Actor: "alice", ToStage: "proposal"})
	comment := Action{Kind: ActionCustomerComment, Actor: CustomerActor, Comment: "Please go ahead."}
	sr, events := agent(move("response"), sr, comment)
	require.Equal(t, "proposal", sr.Stage, "the approval comes first")
	require.Equal(t, EventApprovalRequested, events[len(events)-1].Type)
	require.Equal(t, "automation", events[len(events)-1].Actor)

	sr, events = agent(move("response"), sr, comment)
	require.Equal(t, "proposal", sr.Stage, "nothing while the approval is pending")
	require.Len(t, events, 1)
}

// mustApplySR applies an action that must be accepted and returns the request and the events it emitted.
func mustApplySR(t *testing.T, q *Queue, sr ServiceRequest, a Action, at time.Time) (ServiceRequest, []Event) {
	t.Helper()
	next, effects, err := ApplyServiceRequest(q, sr, a, at)
	require.NoError(t, err)
	return next, Emitted(effects)
}
