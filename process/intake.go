package process

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file holds how service requests come in: the channels a queue takes requests from, who
// handles the requests nobody owns (they wait in the to-do pool of the handling roles and groups
// until one claims them), the defaults and assignment rules applied to requests customers create,
// and the agent console's record of the conversation a request came from.

// Intake is a queue's intake settings.
type Intake struct {
	// Channels lists the channels that may create requests (agent, online-service, portal, guest,
	// email). Without it, only staff create requests (agent, online-service).
	Channels []string `yaml:"channels" json:"channels,omitempty"`
	// Handling says who handles the queue's requests: unassigned ones wait in their to-do pool.
	Handling *Handling `yaml:"handling" json:"handling,omitempty"`
	// Defaults fill in requests that customers create.
	Defaults *RequestDefaults `yaml:"defaults" json:"defaults,omitempty"`
	// Rules route requests that customers create to a team or an owner: the first whose condition
	// holds decides.
	Rules []AssignmentRule `yaml:"rules" json:"rules,omitempty"`
}

// Handling names the staff who handle a queue's requests: anyone with one of the roles or in one of
// the groups may claim an unassigned request.
type Handling struct {
	Roles  []string `yaml:"roles" json:"roles,omitempty"`
	Groups []string `yaml:"groups" json:"groups,omitempty"`
}

// Includes reports whether an actor with these roles and groups handles the requests.
func (h *Handling) Includes(roles, groups []string) bool {
	if h == nil {
		return false
	}
	return slices.ContainsFunc(h.Roles, func(r string) bool { return slices.Contains(roles, r) }) ||
		slices.ContainsFunc(h.Groups, func(g string) bool { return slices.Contains(groups, g) })
}

// RequestDefaults are the values a request created by a customer gets when it does not give them.
type RequestDefaults struct {
	Owner      string   `yaml:"owner" json:"owner,omitempty"`
	Team       string   `yaml:"team" json:"team,omitempty"`
	Impact     string   `yaml:"impact" json:"impact,omitempty"`
	Urgency    string   `yaml:"urgency" json:"urgency,omitempty"`
	Categories []string `yaml:"categories" json:"categories,omitempty"`
	Tags       []string `yaml:"tags" json:"tags,omitempty"`
}

// AssignmentRule routes a new request from a customer: when the condition holds, the request goes
// to the team, the owner, or both.
type AssignmentRule struct {
	When  Expr `yaml:"when,required" json:"when"`
	Team  Text `yaml:"team" json:"team,omitempty"`
	Owner Text `yaml:"owner" json:"owner,omitempty"`
}

// Conversation is the chat, call or message an agent was in when they created a request.
type Conversation struct {
	// Channel is the medium: web (web chat), phone, wechat, email or sms.
	Channel string `json:"channel"`
	// Reference is the conversation's id in the system it happened in (a call id, a chat id).
	Reference string `json:"reference,omitempty"`
}

// ConversationChannels are the media an agent's conversation with a customer happens on.
var ConversationChannels = []string{"web", "phone", "wechat", "email", "sms"}

// RequestChannels are the channels service requests can arrive by: the same words as work orders'.
var RequestChannels = []string{ChannelAgent, ChannelOnlineService, ChannelPortal, ChannelGuest, ChannelEmail}

// CustomerChannels are the channels on which customers create requests themselves: their
// requests get the queue's defaults and are routed by its rules.
var CustomerChannels = []string{ChannelPortal, ChannelGuest, ChannelEmail}

// staffRequestChannels are the channels of a queue without intake channels.
var staffRequestChannels = []string{ChannelAgent, ChannelOnlineService}

// IsCustomerChannel reports whether requests on the channel come from customers themselves.
func IsCustomerChannel(ch string) bool { return slices.Contains(CustomerChannels, ch) }

// Channels lists the channels that may create the queue's requests.
func (q *Queue) Channels() []string {
	if q.Intake == nil || len(q.Intake.Channels) == 0 {
		return staffRequestChannels
	}
	return q.Intake.Channels
}

// handling is the queue's handling, or nil.
func (q *Queue) handling() *Handling {
	if q.Intake == nil || q.Intake.Handling == nil {
		return nil
	}
	h := *q.Intake.Handling
	h.Roles, h.Groups = slices.Clone(h.Roles), slices.Clone(h.Groups)
	return &h
}

// Unassigned reports whether the request waits, open and with neither owner nor team, in the pool
// of its handling roles and groups for one of them to claim it.
func (sr ServiceRequest) Unassigned() bool {
	return sr.State != StateClosed && sr.Owner == "" && sr.Team == "" && sr.Handling != nil
}

// withDefaults fills what a customer's request leaves out from the queue's defaults.
func withDefaults(q *Queue, in NewServiceRequest) NewServiceRequest {
	if q.Intake == nil || q.Intake.Defaults == nil {
		return in
	}
	d := q.Intake.Defaults
	if in.Impact == "" {
		in.Impact = d.Impact
	}
	if in.Urgency == "" {
		in.Urgency = d.Urgency
	}
	if len(in.Categories) == 0 {
		in.Categories = slices.Clone(d.Categories)
	}
	if len(in.Tags) == 0 {
		in.Tags = slices.Clone(d.Tags)
	}
	return in
}

// route is an assignment rule as the interpreters evaluate it: a condition, and the group and the
// person it gives (a work order's group and engineer, a request's team and owner). Work orders'
// assignment nodes and queues' intake rules both go through firstRoute.
type route struct {
	when          Expr
	group, person Text
}

// firstRoute evaluates assignment rules in priority order: the first whose condition holds and
// whose values evaluate gives the group and the person, and its index (-1 when none does). cond
// evaluates a condition (a failing one counts as false, and cond records it); a value that fails
// to evaluate is passed to failed and the rule is skipped.
func firstRoute(rules []route, cond func(Expr) bool, text func(Text) (string, error), failed func(error)) (group, person string, index int) {
	for i, r := range rules {
		if !cond(r.when) {
			continue
		}
		g, err1 := text(r.group)
		p, err2 := text(r.person)
		if err := firstErr(err1, err2); err != nil {
			failed(err)
			continue
		}
		return g, p, i
	}
	return "", "", -1
}

// srRoute routes a new request from a customer: the queue's rules, then its default owner and
// team. Expression failures go to j. It returns the owner, the team and what decided them
// ("rules[N]", "defaults", or "" when the request stays unassigned).
func srRoute(q *Queue, sr ServiceRequest, j *journal) (owner, team, by string) {
	if q.Intake == nil {
		return "", "", ""
	}
	rules := make([]route, len(q.Intake.Rules))
	for i, r := range q.Intake.Rules {
		rules[i] = route{when: r.When, group: r.Team, person: r.Owner}
	}
	ev := Event{Type: EventCreated, At: j.now}
	team, owner, i := firstRoute(rules,
		func(e Expr) bool { return srCondition(q, sr, e, ev, j) },
		srText(q, sr, ev),
		func(err error) { j.add(expressionFailed(ev, err)) })
	if i >= 0 {
		return owner, team, fmt.Sprintf("rules[%d]", i)
	}
	if d := q.Intake.Defaults; d != nil && (d.Owner != "" || d.Team != "") {
		return d.Owner, d.Team, "defaults"
	}
	return "", "", ""
}

// srClaim makes the actor the owner of an unassigned request: one of its handling roles or groups
// (or a supervisor) takes it from the pool. Claims are serialized by the run, so of two concurrent
// claims the second finds the request owned and is refused.
func srClaim(sr *ServiceRequest, a Action, j *journal) error {
	switch {
	case sr.Owner != "":
		return notAllowed("request %s is not unassigned: %s owns it", sr.Number, sr.Owner)
	case sr.Team != "":
		return notAllowed("request %s is not unassigned: team %s has it", sr.Number, sr.Team)
	case sr.Handling == nil:
		return notAllowed("request %s waits in no pool; a supervisor assigns it", sr.Number)
	}
	if !hasRole(a, "supervisor", "admin") && !sr.Handling.Includes(a.ActorRoles, a.ActorGroups) {
		return forbidden("only %s claim request %s", handlingText(sr.Handling), sr.Number)
	}
	sr.Owner = a.Actor
	j.emit(EventClaimed, a.Actor, map[string]any{"owner": a.Actor})
	return nil
}

// handlingText names the handlers, for messages.
func handlingText(h *Handling) string {
	var parts []string
	if len(h.Roles) > 0 {
		parts = append(parts, "the roles "+strings.Join(h.Roles, ", "))
	}
	if len(h.Groups) > 0 {
		parts = append(parts, "the members of "+strings.Join(h.Groups, ", "))
	}
	return strings.Join(parts, " and ")
}

// checkIntake checks a creation's channel and conversation against the queue.
func checkIntake(q *Queue, in NewServiceRequest) []FieldError {
	var fields []FieldError
	channel := in.Channel
	if channel == "" {
		channel = ChannelAgent
	}
	if !slices.Contains(q.Channels(), channel) {
		fields = append(fields, FieldError{Field: "channel", Message: fmt.Sprintf("%q is not an intake channel of queue %s (%s)", channel, q.Key, strings.Join(q.Channels(), ", "))})
	}
	if IsCustomerChannel(channel) && (in.Owner != "" || in.Team != "") {
		fields = append(fields, FieldError{Field: "owner", Message: "a request from a customer is routed by the queue's rules; it names no owner or team"})
	}
	if c := in.Conversation; c != nil {
		if !slices.Contains(ConversationChannels, c.Channel) {
			fields = append(fields, FieldError{Field: "conversation.channel", Message: fmt.Sprintf("%q: use %s%s", c.Channel, strings.Join(ConversationChannels, ", "), suggest(c.Channel, ConversationChannels))})
		}
		if IsCustomerChannel(channel) {
			fields = append(fields, FieldError{Field: "conversation", Message: "only an agent records the conversation a request came from"})
		}
	}
	return fields
}

// ActionCustomerComment is the request's contact writing on it through the request's signed status
// link: the text becomes a note by "contact" and a customer_commented event, which the status page
// shows in the request's public history. The link is the authority, so the run takes it from any
// actor the API sends; it refuses it on a closed request.
const ActionCustomerComment ActionKind = "customer_comment"

// EventCustomerCommented records a comment the contact added through the status link.
const EventCustomerCommented EventType = "customer_commented"

// CustomerActor is the actor of what a request's contact does through its status link.
const CustomerActor = "contact"

// MaxCustomerComment bounds a customer's comment, in characters.
const MaxCustomerComment = 2000

// srCustomerComment adds the contact's comment as a note.
func srCustomerComment(sr *ServiceRequest, a Action, j *journal) error {
	text := strings.TrimSpace(a.Comment)
	switch {
	case text == "":
		return invalid(FieldError{Field: "comment", Message: "is required"})
	case utf8.RuneCountInString(text) > MaxCustomerComment:
		return invalid(FieldError{Field: "comment", Message: fmt.Sprintf("must be at most %d characters", MaxCustomerComment)})
	}
	n := Note{ID: fmt.Sprintf("n%d", sr.Revision+1), Text: text, By: CustomerActor, At: j.now}
	sr.Notes = append(sr.Notes, n)
	sortNotes(sr.Notes)
	j.emit(EventCustomerCommented, CustomerActor, map[string]any{"note": n.ID, "text": text})
	return nil
}
