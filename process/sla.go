package process

import (
	"slices"
	"time"
)

// SLAStatus is where a record stands against its SLA.
type SLAStatus string

// The SLA statuses.
const (
	SLANone     SLAStatus = "none"
	SLAOK       SLAStatus = "ok"
	SLAAlerted  SLAStatus = "alerted"
	SLABreached SLAStatus = "breached"
	SLAPaused   SLAStatus = "paused"
	SLAMet      SLAStatus = "met"
)

// SLAClock is a record's SLA: when it alerts, when it is due, where it stands, and the ledger of
// running and paused segments that explains every alert and breach.
type SLAClock struct {
	AlertAt *time.Time `json:"alertAt,omitempty"`
	DueAt   *time.Time `json:"dueAt,omitempty"`
	Status  SLAStatus  `json:"status"`
	// AlertTarget and CompletionTarget are the targets for the record's priority, as written
	// ("4bh", "3d").
	AlertTarget      string `json:"alertTarget,omitempty"`
	CompletionTarget string `json:"completionTarget,omitempty"`
	// Alerted and Breached stay true once the alert or the breach happened.
	Alerted  bool `json:"alerted,omitempty"`
	Breached bool `json:"breached,omitempty"`
	// Remaining is the completion time left when the clock was paused (business time when the
	// target is in business hours).
	Remaining time.Duration `json:"remaining,omitempty"`
	// Business is true when the completion target counts business time; AlertBusiness, when the
	// alert target does.
	Business      bool `json:"business,omitempty"`
	AlertBusiness bool `json:"alertBusiness,omitempty"`
	// Ledger lists the clock's segments in order: running while the record is worked on, paused
	// in a pause stage.
	Ledger []SLASegment `json:"ledger,omitempty"`
}

// SLASegment is a stretch of time the completion clock ran or stood still.
type SLASegment struct {
	State string     `json:"state"` // running or paused
	Stage string     `json:"stage"`
	From  time.Time  `json:"from"`
	To    *time.Time `json:"to,omitempty"`
	// Counted is the SLA time a closed running segment used (business time when the target is in
	// business hours); zero for paused segments.
	Counted time.Duration `json:"counted,omitempty"`
}

// Segment states.
const (
	segmentRunning = "running"
	segmentPaused  = "paused"
)

// Timer IDs of the SLA clocks.
const (
	timerSLAAlert  = "sla-alert"
	timerSLABreach = "sla-breach"
)

// startSLA sets a new record's clocks from the process's targets for its priority.
func startSLA(p *Process, priority, stage string, now time.Time) SLAClock {
	if p.SLA == nil {
		return SLAClock{Status: SLANone}
	}
	c := SLAClock{Status: SLAOK}
	if d, ok := p.SLA.Alert[priority]; ok {
		at := Deadline(now, d, p.CalendarDef)
		c.AlertAt, c.AlertTarget, c.AlertBusiness = &at, d.String(), d.Business
	}
	if d, ok := p.SLA.Completion[priority]; ok {
		at := Deadline(now, d, p.CalendarDef)
		c.DueAt, c.CompletionTarget, c.Business = &at, d.String(), d.Business
	}
	if c.AlertAt == nil && c.DueAt == nil {
		c.Status = SLANone
		return c
	}
	c.Ledger = []SLASegment{{State: segmentRunning, Stage: stage, From: now}}
	return c
}

// timers are the timers a clock needs now. The alert only runs while the record is in its new
// state; nothing runs while the clock is paused or after it stopped.
func (c SLAClock) timers(state StageState) []Timer {
	var ts []Timer
	if c.Status == SLAPaused || c.Status == SLAMet || c.Status == SLANone || (c.Status == SLABreached && c.closed()) {
		return nil
	}
	if c.AlertAt != nil && !c.Alerted && state == StateNew {
		ts = append(ts, Timer{ID: timerSLAAlert, At: *c.AlertAt})
	}
	if c.DueAt != nil && !c.Breached {
		ts = append(ts, Timer{ID: timerSLABreach, At: *c.DueAt})
	}
	return ts
}

// closed reports whether the clock has stopped for good.
func (c SLAClock) closed() bool {
	return len(c.Ledger) > 0 && c.Ledger[len(c.Ledger)-1].To != nil
}

// elapsed is the SLA time counted between two instants.
func (c SLAClock) elapsed(cal *Calendar, from, to time.Time) time.Duration {
	if c.Business {
		return cal.BusinessBetween(from, to)
	}
	return to.Sub(from)
}

// Counted is the SLA time used up to now: the closed running segments and the open one.
func (c SLAClock) Counted(cal *Calendar, now time.Time) time.Duration {
	var total time.Duration
	for _, s := range c.Ledger {
		switch {
		case s.To != nil:
			total += s.Counted
		case s.State == segmentRunning:
			total += c.elapsed(cal, s.From, now)
		}
	}
	return total
}

// turn closes the open segment at now and opens one in the given state (none when next is "").
func (c SLAClock) turn(cal *Calendar, next, stage string, now time.Time) SLAClock {
	c.Ledger = slices.Clone(c.Ledger)
	if n := len(c.Ledger); n > 0 && c.Ledger[n-1].To == nil {
		last := c.Ledger[n-1]
		end := now
		last.To = &end
		if last.State == segmentRunning {
			last.Counted = c.elapsed(cal, last.From, now)
		}
		c.Ledger[n-1] = last
	}
	if next != "" {
		c.Ledger = append(c.Ledger, SLASegment{State: next, Stage: stage, From: now})
	}
	return c
}

// pause stops the completion clock, keeping the time left.
func (c SLAClock) pause(cal *Calendar, stage string, now time.Time) SLAClock {
	if c.Status == SLAPaused || c.Status == SLAMet || c.Status == SLANone || c.DueAt == nil || c.Breached {
		return c
	}
	c.Remaining = c.elapsed(cal, now, *c.DueAt)
	c.Status = SLAPaused
	return c.turn(cal, segmentPaused, stage, now)
}

// resume restarts a paused completion clock with the time that was left.
func (c SLAClock) resume(cal *Calendar, stage string, now time.Time) SLAClock {
	if c.Status != SLAPaused {
		return c
	}
	var due time.Time
	if c.Business {
		due = cal.AddBusiness(now, c.Remaining)
	} else {
		due = now.Add(c.Remaining)
	}
	c.DueAt = &due
	c.Remaining = 0
	c.Status = SLAOK
	if c.Alerted {
		c.Status = SLAAlerted
	}
	return c.turn(cal, segmentRunning, stage, now)
}

// stop ends the clock when the record closes.
func (c SLAClock) stop(cal *Calendar, now time.Time) SLAClock {
	if c.Status == SLANone {
		return c
	}
	if !c.Breached {
		c.Status = SLAMet
	} else {
		c.Status = SLABreached
	}
	c.Remaining = 0
	return c.turn(cal, "", "", now)
}

// retarget moves the clock onto the targets of a new priority: the time already counted stays
// counted, the alert and the due time are computed again from the new targets.
func (c SLAClock) retarget(p *Process, priority string, now time.Time) SLAClock {
	if p.SLA == nil || c.closed() {
		return c
	}
	counted := c.Counted(p.CalendarDef, now)
	start := now
	if len(c.Ledger) > 0 {
		start = c.Ledger[0].From
	}
	c.AlertAt, c.AlertTarget = nil, ""
	if d, ok := p.SLA.Alert[priority]; ok {
		at := Deadline(start, d, p.CalendarDef)
		c.AlertAt, c.AlertTarget, c.AlertBusiness = &at, d.String(), d.Business
	}
	c.DueAt, c.CompletionTarget = nil, ""
	if d, ok := p.SLA.Completion[priority]; ok {
		c.CompletionTarget, c.Business = d.String(), d.Business
		remaining := max(d.D-counted, 0)
		if c.Status == SLAPaused {
			c.Remaining = remaining
		} else {
			var due time.Time
			if d.Business {
				due = p.CalendarDef.AddBusiness(now, remaining)
			} else {
				due = now.Add(remaining)
			}
			c.DueAt = &due
		}
	}
	if c.Status == SLANone && (c.AlertAt != nil || c.DueAt != nil) {
		c.Status = SLAOK
		c.Ledger = []SLASegment{{State: segmentRunning, From: now}}
	}
	return c
}

// slaDetails explains a breach: the target and the completion time counted, over how many
// running and paused segments.
func slaDetails(c SLAClock, cal *Calendar, target string, now time.Time) map[string]any {
	running, paused := 0, 0
	for _, s := range c.Ledger {
		if s.State == segmentRunning {
			running++
		} else {
			paused++
		}
	}
	return map[string]any{
		"target": target, "counted": formatSpan(c.Counted(cal, now)),
		"runningSegments": running, "pausedSegments": paused,
	}
}

// onStage keeps the clock in step with a stage change: it pauses in a pause stage and resumes
// when the record leaves one, recording sla_paused / sla_resumed.
func (c SLAClock) onStage(p *Process, s Stage, j *journal) SLAClock {
	if p.SLA == nil || s.State == StateClosed {
		return c
	}
	wasPaused := c.Status == SLAPaused
	pause := slices.Contains(p.SLA.PauseIn, s.ID)
	switch {
	case pause && !wasPaused:
		c = c.pause(p.CalendarDef, s.ID, j.now)
		if c.Status == SLAPaused {
			j.emit(EventSLAPaused, "system", map[string]any{"stage": s.ID, "remaining": formatSpan(c.Remaining)})
		}
	case !pause && wasPaused:
		c = c.resume(p.CalendarDef, s.ID, j.now)
		j.emit(EventSLAResumed, "system", map[string]any{"stage": s.ID, "dueAt": *c.DueAt})
	}
	return c
}

// fire handles a fired SLA timer (timerSLAAlert or timerSLABreach): it records the alert or the
// breach, explained by the ledger, and returns the actions the definition declares for it.
func (c SLAClock) fire(p *Process, id, stage, priority string, j *journal) (SLAClock, []AutomationAction) {
	cal := p.CalendarDef
	if id == timerSLAAlert {
		c.Alerted = true
		if !c.Breached {
			c.Status = SLAAlerted
		}
		// The alert counts from the creation, in new stages only, so no pause applies to it.
		counted := (SLAClock{Business: c.AlertBusiness}).elapsed(cal, c.Ledger[0].From, j.now)
		details := map[string]any{"target": c.AlertTarget, "counted": formatSpan(counted),
			"alertAt": *c.AlertAt, "stage": stage, "priority": priority}
		j.emit(EventSLAAlert, "system", details)
		return c, p.SLA.OnAlert
	}
	c.Breached, c.Status = true, SLABreached
	details := slaDetails(c, cal, c.CompletionTarget, j.now)
	details["dueAt"], details["stage"], details["priority"] = *c.DueAt, stage, priority
	j.emit(EventSLABreached, "system", details)
	return c, p.SLA.OnBreach
}
