package process

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is a script for `fieldflow defs simulate`: a record created at Start, then actions at
// given times; the pure interpreter runs it on a virtual clock, firing timers (SLA alerts and
// breaches, timeouts) as the time passes.
type Scenario struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       Kind   `yaml:"kind"`
	// Start is when the record is created: "2027-03-26 16:30" in the definition's calendar time
	// zone (UTC without a calendar), or RFC 3339.
	Start string `yaml:"start,required"`
	// Record holds the creation's fields.
	Record ScenarioRecord `yaml:"record"`
	// Actions happen in order; each at a time (At) or a while after the previous one (After).
	Actions []ScenarioAction `yaml:"actions"`
	// Until is when the simulation stops (default: 30 days after the start, or once the record is
	// closed and nothing is left to happen).
	Until string `yaml:"until"`
}

// ScenarioRecord is what the simulated record is created with.
type ScenarioRecord struct {
	Subject     string            `yaml:"subject"`
	Description string            `yaml:"description"`
	Impact      string            `yaml:"impact"`
	Urgency     string            `yaml:"urgency"`
	Categories  []string          `yaml:"categories"`
	Tags        []string          `yaml:"tags"`
	Owner       string            `yaml:"owner"`
	Team        string            `yaml:"team"`
	Channel     string            `yaml:"channel"`
	Region      string            `yaml:"region"`
	Account     string            `yaml:"account"`
	Device      ScenarioDevice    `yaml:"device"`
	Fields      map[string]string `yaml:"fields"`
}

// ScenarioDevice is the simulated work order's equipment.
type ScenarioDevice struct {
	Code     string `yaml:"code"`
	Category string `yaml:"category"`
	Model    string `yaml:"model"`
}

// ScenarioAction is one action of a scenario.
type ScenarioAction struct {
	At    string   `yaml:"at"`
	After Duration `yaml:"after"`
	// Do is the action: progress, regress, close, decide, assign, claim, accept, decline, transfer,
	// start_step, stop_step, complete_step, add_attachment, rate, skip_rating, follow_up, or "wait"
	// to let time pass.
	Do     ActionKind `yaml:"do,required"`
	Actor  string     `yaml:"actor"`
	Roles  []string   `yaml:"roles"`
	Groups []string   `yaml:"groups"`
	// File is the name of the file add_attachment uploads (a photo of Step, when given).
	File         string   `yaml:"file"`
	ToStage      string   `yaml:"toStage"`
	Reason       string   `yaml:"reason"`
	Resolved     *bool    `yaml:"resolved"`
	Resolution   string   `yaml:"resolution"`
	Approval     string   `yaml:"approval"`
	Decision     string   `yaml:"decision"`
	ViaLink      bool     `yaml:"viaLink"`
	Engineer     string   `yaml:"engineer"`
	Group        string   `yaml:"group"`
	Step         string   `yaml:"step"`
	Result       string   `yaml:"result"`
	LaborMinutes int      `yaml:"laborMinutes"`
	Score        *float64 `yaml:"score"`
}

// ParseScenario reads a scenario file, reporting mistakes with their positions.
func ParseScenario(file string, data []byte) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{syntaxProblem(file, err)}
	}
	var s Scenario
	d := newDecoder(file)
	d.decode(&root, reflect.ValueOf(&s).Elem(), "")
	if s.Kind != "" && s.Kind != KindScenario {
		d.addf(root.Content[0], "a scenario has kind %s, not %s", KindScenario, s.Kind)
	}
	if err := d.problems.Err(); err != nil {
		return nil, err
	}
	return &s, nil
}

// simulation is a run of the interpreter on a virtual clock.
type simulation struct {
	out   io.Writer
	cal   *Calendar
	loc   *time.Location
	now   time.Time
	apply func(Action, time.Time) ([]Effect, error)
	// timers lists the record's timers.
	timers func() []Timer
	closed func() bool
	// describe tells the state after a change, for the timeline.
	describe func() string
	// clock is the record's SLA clock.
	sla func() SLAClock
}

// Simulate runs a scenario against a queue or work-order type of the catalog and writes the
// timeline: every change, timer and effect, with its time in the calendar's time zone and, for
// business-time targets, how the business hours were counted.
func Simulate(c *Catalog, key string, sc *Scenario, out io.Writer) error {
	def, ok := c.Definition(key)
	if !ok {
		keys := append(sortedKeys(c.queues), sortedKeys(c.workOrderTypes)...)
		return fmt.Errorf("no queue or work-order type %q (there are: %s)", key, strings.Join(keys, ", "))
	}
	s := &simulation{out: out}
	var p *Process
	switch d := def.(type) {
	case *Queue:
		p = &d.Process
	case *WorkOrderType:
		p = &d.Process
	}
	s.cal = p.CalendarDef
	s.loc = s.cal.Location()
	start, err := s.parseTime(sc.Start)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	until := start.Add(30 * 24 * time.Hour)
	if sc.Until != "" {
		if until, err = s.parseTime(sc.Until); err != nil {
			return fmt.Errorf("until: %w", err)
		}
	}
	s.now = start
	s.header(p, start)
	var effects []Effect
	switch d := def.(type) {
	case *Queue:
		effects, err = s.startRequest(d, sc, start)
	case *WorkOrderType:
		effects, err = s.startOrder(d, sc, start)
	}
	if err != nil {
		return err
	}
	s.effects(effects)
	for i, a := range sc.Actions {
		at := s.now.Add(a.After.D)
		if a.After.Business {
			at = s.cal.AddBusiness(s.now, a.After.D)
		}
		if a.At != "" {
			if at, err = s.parseTime(a.At); err != nil {
				return fmt.Errorf("actions[%d].at: %w", i, err)
			}
		}
		if at.Before(s.now) {
			return fmt.Errorf("actions[%d] at %s is before the previous moment %s", i, s.clock(at), s.clock(s.now))
		}
		s.fireTimers(at)
		s.now = at
		if a.Do == "wait" {
			continue
		}
		act := scenarioAction(a)
		eff, err := s.apply(act, at)
		if err != nil {
			s.line(at, "refused", fmt.Sprintf("%s: %v", a.Do, err))
			continue
		}
		s.effects(eff)
	}
	s.fireTimers(until)
	end := later(s.now, until)
	fmt.Fprintf(out, "%s  end of simulation: %s\n", s.clock(end), s.describe())
	s.ledger(end)
	return nil
}

func scenarioAction(a ScenarioAction) Action {
	actor := a.Actor
	if actor == "" {
		actor = "designer"
	}
	var file *Attachment
	if a.File != "" {
		file = &Attachment{ID: "simulated-" + a.File, Name: a.File, ContentType: "image/jpeg", Size: 1, Step: a.Step}
	}
	return Action{
		Kind: a.Do, Actor: actor, ActorRoles: a.Roles, ActorGroups: a.Groups, Attachment: file, ViaLink: a.ViaLink, ToStage: a.ToStage, Reason: a.Reason,
		Resolved: a.Resolved, Resolution: a.Resolution, ApprovalID: a.Approval, Decision: a.Decision,
		Engineer: a.Engineer, Group: a.Group, StepID: a.Step, StepResult: a.Result, LaborMinutes: a.LaborMinutes, Score: a.Score,
	}
}

func (s *simulation) startRequest(q *Queue, sc *Scenario, start time.Time) ([]Effect, error) {
	in := NewServiceRequest{
		ID: "simulated", Number: "SIM-000001", Queue: q.Key, Subject: sc.Record.Subject, Description: sc.Record.Description,
		Contact: Contact{Name: "Simulated contact", Email: "contact@example.com"}, Impact: sc.Record.Impact, Urgency: sc.Record.Urgency,
		Categories: sc.Record.Categories, Tags: sc.Record.Tags, Owner: sc.Record.Owner, Team: sc.Record.Team,
	}
	if in.Subject == "" {
		in.Subject = "Simulated request"
	}
	sr, effects, err := CreateServiceRequest(q, in, "designer", start)
	if err != nil {
		return nil, err
	}
	s.apply = func(a Action, at time.Time) ([]Effect, error) {
		next, eff, err := ApplyServiceRequest(q, sr, a, at)
		if err == nil {
			sr = next
		}
		return eff, err
	}
	s.timers = func() []Timer { return ServiceRequestTimers(q, sr) }
	s.closed = func() bool { return sr.State == StateClosed }
	s.describe = func() string {
		return fmt.Sprintf("stage %s (%s), SLA %s%s", sr.Stage, sr.State, sr.SLA.Status, s.slaDue(sr.SLA))
	}
	s.sla = func() SLAClock { return sr.SLA }
	return effects, nil
}

func (s *simulation) startOrder(t *WorkOrderType, sc *Scenario, start time.Time) ([]Effect, error) {
	channel := sc.Record.Channel
	if channel == "" && len(t.Intake) > 0 {
		channel = t.Intake[0]
	}
	in := NewWorkOrder{
		ID: "simulated", Number: "SIM-000001", RecordType: t.Key, Subject: sc.Record.Subject, Description: sc.Record.Description,
		Channel: channel, Contact: Contact{Name: "Simulated contact", Email: "contact@example.com"}, Account: sc.Record.Account,
		Region: sc.Record.Region, Device: Device{Code: sc.Record.Device.Code, Category: sc.Record.Device.Category, Model: sc.Record.Device.Model},
		Impact: sc.Record.Impact, Urgency: sc.Record.Urgency, Fields: sc.Record.Fields,
	}
	if in.Subject == "" {
		in.Subject = "Simulated work order"
	}
	wo, effects, err := CreateWorkOrder(t, in, "designer", start)
	if err != nil {
		return nil, err
	}
	s.apply = func(a Action, at time.Time) ([]Effect, error) {
		next, eff, err := ApplyWorkOrder(t, wo, a, at)
		if err == nil {
			wo = next
		}
		return eff, err
	}
	s.timers = func() []Timer { return WorkOrderTimers(t, wo) }
	s.closed = func() bool { return wo.State == StateClosed }
	s.describe = func() string {
		return fmt.Sprintf("node %s, stage %s (%s), SLA %s%s", wo.Node, wo.Stage, wo.State, wo.SLA.Status, s.slaDue(wo.SLA))
	}
	s.sla = func() SLAClock { return wo.SLA }
	return effects, nil
}

// fireTimers fires, in time order, every timer due up to until.
func (s *simulation) fireTimers(until time.Time) {
	for range 10000 {
		ts := s.timers()
		if len(ts) == 0 {
			return
		}
		sort.SliceStable(ts, func(i, j int) bool { return ts[i].At.Before(ts[j].At) })
		next := ts[0]
		if next.At.After(until) {
			return
		}
		at := later(next.At, s.now)
		s.now = at
		eff, err := s.apply(Action{Kind: ActionTimer, TimerID: next.ID, Actor: "system"}, at)
		if err != nil {
			s.line(at, "refused", fmt.Sprintf("timer %s: %v", next.ID, err))
			return
		}
		s.effects(eff)
	}
}

// effects prints what a step produced and answers its effects as if they had succeeded.
func (s *simulation) effects(effects []Effect) {
	var done []Action
	for _, e := range effects {
		switch e := e.(type) {
		case Emit:
			s.event(e.Event)
		case Notify:
			via := ""
			if len(e.Channels) > 0 {
				via = " via " + strings.Join(e.Channels, ", ")
				if e.Priority {
					via += " (first that works)"
				}
			}
			s.line(s.now, "→ notify", fmt.Sprintf("%s to %s%s", e.Template, strings.Join(e.Recipients, ", "), via))
			done = append(done, Action{Kind: ActionEffectDone, EffectID: e.EffectID, EffectKind: "notify", Actor: "system"})
		case CallWebhook:
			s.line(s.now, "→ webhook", "POST "+e.URL)
			done = append(done, Action{Kind: ActionEffectDone, EffectID: e.EffectID, EffectKind: "webhook", Actor: "system"})
		case IssueInvoice:
			s.line(s.now, "→ invoice", fmt.Sprintf("bill the contact %.2f for %d charge(s)", e.Total, len(e.Charges)))
			done = append(done, Action{Kind: ActionEffectDone, EffectID: e.EffectID, EffectKind: "invoice", Actor: "system",
				Result: map[string]string{"number": "SIM-INV-1"}})
		case PickEngineer:
			// The simulation knows no group members: the order waits in the pool for the
			// scenario's assign or claim.
			s.line(s.now, "→ pick", fmt.Sprintf("%s of %s (nobody in a simulation)", e.Strategy, e.Group))
			done = append(done, Action{Kind: ActionEffectDone, EffectID: e.EffectID, EffectKind: "pick", Actor: "system"})
		case ReportToParent:
			s.line(s.now, "→ report", fmt.Sprintf("tell %s that %s is %s", e.Parent, e.Order.Number, e.Order.Status))
		case StartWorkOrder:
			s.line(s.now, "→ convert", fmt.Sprintf("start a %s work order (%s)", e.RecordType, formatFields(e.Fields)))
			done = append(done, Action{Kind: ActionEffectDone, EffectID: e.EffectID, EffectKind: "convert", Actor: "system",
				Result: map[string]string{"id": "simulated-child", "number": "SIM-CHILD-1"}})
		}
	}
	for _, a := range done {
		eff, err := s.apply(a, s.now)
		if err == nil {
			s.effects(eff)
		}
	}
}

func formatFields(fields map[string]string) string {
	parts := make([]string, 0, len(fields))
	for _, k := range sortedKeys(fields) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, fields[k]))
	}
	return strings.Join(parts, ", ")
}

func (s *simulation) event(e Event) {
	var parts []string
	for _, k := range sortedKeys(e.Details) {
		v := e.Details[k]
		switch v := v.(type) {
		case time.Time:
			parts = append(parts, fmt.Sprintf("%s %s", k, s.clock(v)))
		case nil:
		case string:
			if v != "" {
				parts = append(parts, fmt.Sprintf("%s %s", k, v))
			}
		default:
			parts = append(parts, fmt.Sprintf("%s %v", k, v))
		}
	}
	actor := ""
	if e.Actor != "" && e.Actor != "system" {
		actor = " by " + e.Actor
	}
	s.line(e.At, string(e.Type), strings.Join(parts, ", ")+actor)
}

func (s *simulation) line(at time.Time, what, text string) {
	fmt.Fprintf(s.out, "%s  %-20s %s\n", s.clock(at), what, strings.TrimSpace(text))
}

// clock formats an instant in the calendar's time zone: "Fri 2027-03-26 16:30 EET".
func (s *simulation) clock(t time.Time) string {
	return t.In(s.loc).Format("Mon 2006-01-02 15:04 MST")
}

func (s *simulation) parseTime(text string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, text, s.loc); err == nil {
			return t, nil
		}
	}
	t, err := time.Parse(time.RFC3339, text)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: write a time as \"2027-03-26 16:30\" (in the calendar's time zone) or in RFC 3339", text)
	}
	return t, nil
}

// ledger prints the SLA clock's segments: what the completion time was counted on.
func (s *simulation) ledger(now time.Time) {
	c := s.sla()
	if len(c.Ledger) == 0 {
		return
	}
	fmt.Fprintf(s.out, "SLA ledger (completion target %s, %s counted):\n", c.CompletionTarget, formatSpan(c.Counted(s.cal, now)))
	for _, seg := range c.Ledger {
		to, counted := "…", ""
		if seg.To != nil {
			to = s.clock(*seg.To)
		}
		if seg.State == segmentRunning {
			end := now
			if seg.To != nil {
				end = *seg.To
			}
			counted = " counts " + formatSpan(c.elapsed(s.cal, seg.From, end))
		}
		fmt.Fprintf(s.out, "    %-8s %s → %s in %s%s\n", seg.State, s.clock(seg.From), to, seg.Stage, counted)
	}
}

func (s *simulation) slaDue(c SLAClock) string {
	switch {
	case c.Status == SLAPaused:
		return fmt.Sprintf(", %s left", c.Remaining)
	case c.DueAt != nil:
		return ", due " + s.clock(*c.DueAt)
	}
	return ""
}

// header prints the definition, the calendar and the SLA targets with how they are counted.
func (s *simulation) header(p *Process, start time.Time) {
	fmt.Fprintf(s.out, "Simulation of %s %q (version %s)\n", p.Kind, p.Key, p.Version)
	if s.cal != nil {
		fmt.Fprintf(s.out, "Calendar %s: %s, %s\n", s.cal.Key, s.cal.TimeZone, s.cal.weekSummary())
	} else {
		fmt.Fprintf(s.out, "No calendar: every hour counts, times in UTC\n")
	}
	if p.SLA != nil {
		for _, block := range []struct {
			name    string
			targets map[string]Duration
		}{{"alert", p.SLA.Alert}, {"completion", p.SLA.Completion}} {
			for _, level := range p.Priority.Levels {
				d, ok := block.targets[level]
				if !ok {
					continue
				}
				due := Deadline(start, d, s.cal)
				fmt.Fprintf(s.out, "SLA %s for %s priority: %s → %s\n", block.name, level, d, s.clock(due))
				if d.Business {
					fmt.Fprintf(s.out, "    %s\n", s.cal.explain(start, due))
				}
			}
		}
	}
	fmt.Fprintln(s.out)
}

// weekSummary describes the opening hours: "Mon–Fri 09:00-17:00".
func (c *Calendar) weekSummary() string {
	days := []struct {
		name  string
		spans []TimeSpan
	}{
		{"Mon", c.Hours.Monday}, {"Tue", c.Hours.Tuesday}, {"Wed", c.Hours.Wednesday}, {"Thu", c.Hours.Thursday},
		{"Fri", c.Hours.Friday}, {"Sat", c.Hours.Saturday}, {"Sun", c.Hours.Sunday},
	}
	var parts []string
	for i := 0; i < len(days); {
		j := i
		for j+1 < len(days) && spansText(days[j+1].spans) == spansText(days[i].spans) {
			j++
		}
		if text := spansText(days[i].spans); text != "" {
			name := days[i].name
			if j > i {
				name += "–" + days[j].name
			}
			parts = append(parts, name+" "+text)
		}
		i = j + 1
	}
	if len(c.Holidays) > 0 {
		parts = append(parts, fmt.Sprintf("%d holidays", len(c.Holidays)))
	}
	return strings.Join(parts, ", ")
}

func spansText(spans []TimeSpan) string {
	parts := make([]string, len(spans))
	for i, sp := range spans {
		parts[i] = sp.String()
	}
	return strings.Join(parts, ", ")
}

// explain tells, day by day, how the business time between from and to was counted: the opening
// spans used, closed days, holidays and daylight-saving changes.
func (c *Calendar) explain(from, to time.Time) string {
	if c == nil {
		return "every hour counts"
	}
	s := c.schedule()
	names := map[string]string{}
	for _, h := range c.Holidays {
		names[h.Date] = h.Name
	}
	var parts []string
	closedRun := ""
	flush := func() {
		if closedRun != "" {
			parts = append(parts, closedRun+" closed")
			closedRun = ""
		}
	}
	lf, lt := from.In(s.loc), to.In(s.loc)
	y, m, d := lf.Date()
	for day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); !day.After(time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)); day = day.AddDate(0, 0, 1) {
		dy, dm, dd := day.Date()
		label := day.Format("Mon 01-02")
		if name, ok := names[day.Format("2006-01-02")]; ok {
			flush()
			parts = append(parts, fmt.Sprintf("%s holiday (%s)", label, name))
			continue
		}
		var used []string
		var total time.Duration
		for _, sp := range s.spansOn(dy, dm, dd) {
			start, end := s.spanInstants(dy, dm, dd, sp)
			start, end = later(start, from), earlier(end, to)
			if end.After(start) {
				used = append(used, start.In(s.loc).Format("15:04")+"–"+end.In(s.loc).Format("15:04"))
				total += end.Sub(start)
			}
		}
		if len(used) == 0 {
			if closedRun == "" {
				closedRun = day.Format("Mon")
			} else {
				closedRun = strings.SplitN(closedRun, "–", 2)[0] + "–" + day.Format("Mon")
			}
			continue
		}
		flush()
		parts = append(parts, fmt.Sprintf("%s %s (%s)", label, strings.Join(used, ", "), formatSpan(total)))
	}
	flush()
	if _, off1 := from.In(s.loc).Zone(); true {
		name2, off2 := to.In(s.loc).Zone()
		if off1 != off2 {
			parts = append(parts, fmt.Sprintf("clocks changed to %s on the way", name2))
		}
	}
	return strings.Join(parts, " · ")
}

// formatSpan writes a duration as "7h30m" or "30m".
func formatSpan(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
