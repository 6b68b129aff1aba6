package process

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// APIVersion is the only definition language version this build reads.
const APIVersion = "fieldflow/v1"

// Kind says what a definition file describes.
type Kind string

// The definition kinds.
const (
	KindServiceRequestQueue Kind = "ServiceRequestQueue"
	KindWorkOrderType       Kind = "WorkOrderType"
	KindCalendar            Kind = "Calendar"
)

// StageState is the state a stage maps to: every queue has one new stage, one closed stage and any
// number of in-progress stages between them.
type StageState string

// The three stage states.
const (
	StateNew        StageState = "new"
	StateInProgress StageState = "in_progress"
	StateClosed     StageState = "closed"
)

// Queue is a service-request queue definition: what a ServiceRequest run interprets. It travels in
// the run's start input as JSON, so everything it needs is in its fields.
type Queue struct {
	APIVersion  string        `yaml:"apiVersion,required" json:"apiVersion"`
	Kind        Kind          `yaml:"kind,required" json:"kind"`
	Key         string        `yaml:"key,required" json:"key"`
	Title       string        `yaml:"title" json:"title"`
	Description string        `yaml:"description" json:"description,omitempty"`
	Numbering   string        `yaml:"numbering" json:"numbering"`
	Categories  []string      `yaml:"categories" json:"categories,omitempty"`
	Priority    PriorityModel `yaml:"priority" json:"priority"`
	Stages      []Stage       `yaml:"stages,required" json:"stages"`

	// Version is the content hash of the definition, set when it is loaded.
	Version string `yaml:"-" json:"version"`
}

// Stage is one step of a queue.
type Stage struct {
	ID    string     `yaml:"id,required" json:"id"`
	Title string     `yaml:"title" json:"title,omitempty"`
	State StageState `yaml:"state,required" json:"state"`
}

// PriorityModel derives a request's priority from its impact and urgency.
type PriorityModel struct {
	Default ImpactUrgency `yaml:"default" json:"default"`
	// Matrix maps impact, then urgency, to a priority.
	Matrix map[string]map[string]string `yaml:"matrix" json:"matrix"`
}

// ImpactUrgency is a pair of levels.
type ImpactUrgency struct {
	Impact  string `yaml:"impact" json:"impact"`
	Urgency string `yaml:"urgency" json:"urgency"`
}

// defaultMatrix is the usual three-by-three model, used when a queue declares none.
func defaultMatrix() map[string]map[string]string {
	return map[string]map[string]string{
		"high":   {"high": "critical", "medium": "high", "low": "medium"},
		"medium": {"high": "high", "medium": "medium", "low": "low"},
		"low":    {"high": "medium", "medium": "low", "low": "low"},
	}
}

// DefaultNumbering is the numbering scheme of a queue that declares none.
const DefaultNumbering = "SR-{yyyy}-{seq:6}"

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// applyDefaults fills what a designer may leave out.
func (q *Queue) applyDefaults() {
	if q.Title == "" {
		q.Title = q.Key
	}
	if q.Numbering == "" {
		q.Numbering = DefaultNumbering
	}
	if q.Priority.Matrix == nil {
		q.Priority.Matrix = defaultMatrix()
	}
	if q.Priority.Default.Impact == "" {
		q.Priority.Default.Impact = "medium"
	}
	if q.Priority.Default.Urgency == "" {
		q.Priority.Default.Urgency = "medium"
	}
	for i := range q.Stages {
		if q.Stages[i].Title == "" {
			q.Stages[i].Title = q.Stages[i].ID
		}
	}
}

// validate reports every rule the queue breaks, at the place it is broken.
func (q *Queue) validate(src sourceMap) Problems {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Position: src.at(path), Message: fmt.Sprintf(format, args...)})
	}
	if q.APIVersion != "" && q.APIVersion != APIVersion {
		add("apiVersion", "apiVersion %q is not supported; use %q", q.APIVersion, APIVersion)
	}
	if q.Key != "" && !idPattern.MatchString(q.Key) {
		add("key", "key %q must start with a lower-case letter and use only a-z, 0-9, - and _", q.Key)
	}
	if _, err := ParseNumbering(q.Numbering); err != nil {
		add("numbering", "numbering: %v", err)
	}
	ps = append(ps, q.validateStages(src)...)
	ps = append(ps, q.validatePriority(src)...)
	return ps
}

func (q *Queue) validateStages(src sourceMap) Problems {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Position: src.at(path), Message: fmt.Sprintf(format, args...)})
	}
	seen := map[string]int{}
	var newStages, closedStages []int
	for i, s := range q.Stages {
		path := fmt.Sprintf("stages[%d]", i)
		if s.ID != "" && !idPattern.MatchString(s.ID) {
			add(path+".id", "stage id %q must start with a lower-case letter and use only a-z, 0-9, - and _", s.ID)
		}
		if j, dup := seen[s.ID]; dup && s.ID != "" {
			add(path+".id", "stage id %q is already used by stages[%d]", s.ID, j)
		}
		seen[s.ID] = i
		switch s.State {
		case StateNew:
			newStages = append(newStages, i)
		case StateClosed:
			closedStages = append(closedStages, i)
		case StateInProgress, "":
		default:
			add(path+".state", "stage state %q is not one of new, in_progress, closed%s", s.State,
				suggest(string(s.State), []string{"new", "in_progress", "closed"}))
		}
	}
	if len(q.Stages) == 0 {
		add("stages", "a queue needs stages: one new, any number in_progress, one closed")
		return ps
	}
	switch {
	case len(newStages) == 0:
		add("stages", "a queue needs exactly one stage with state new; it has none")
	case len(newStages) > 1:
		add(fmt.Sprintf("stages[%d].state", newStages[1]), "a queue has exactly one stage with state new; %q is the second", q.Stages[newStages[1]].ID)
	case newStages[0] != 0:
		add(fmt.Sprintf("stages[%d]", newStages[0]), "the new stage %q must come first", q.Stages[newStages[0]].ID)
	}
	last := len(q.Stages) - 1
	switch {
	case len(closedStages) == 0:
		add("stages", "a queue needs exactly one stage with state closed; it has none")
	case len(closedStages) > 1:
		add(fmt.Sprintf("stages[%d].state", closedStages[1]), "a queue has exactly one stage with state closed; %q is the second", q.Stages[closedStages[1]].ID)
	case closedStages[0] != last:
		add(fmt.Sprintf("stages[%d]", closedStages[0]), "the closed stage %q must come last", q.Stages[closedStages[0]].ID)
	}
	return ps
}

func (q *Queue) validatePriority(src sourceMap) Problems {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Position: src.at(path), Message: fmt.Sprintf(format, args...)})
	}
	m := q.Priority.Matrix
	impacts := sortedKeys(m)
	if len(impacts) == 0 {
		add("priority.matrix", "the priority matrix is empty")
		return ps
	}
	urgencies := q.Urgencies()
	for _, impact := range impacts {
		for _, urgency := range urgencies {
			p, ok := m[impact][urgency]
			switch {
			case !ok:
				add("priority.matrix."+impact, "the priority matrix has no priority for impact %q and urgency %q", impact, urgency)
			case p == "":
				add("priority.matrix."+impact+"."+urgency, "the priority for impact %q and urgency %q is empty", impact, urgency)
			}
		}
	}
	if d := q.Priority.Default; m[d.Impact] == nil {
		add("priority.default.impact", "default impact %q is not in the matrix (%s)%s", d.Impact, strings.Join(impacts, ", "), suggest(d.Impact, impacts))
	} else if !slices.Contains(urgencies, d.Urgency) {
		add("priority.default.urgency", "default urgency %q is not in the matrix (%s)%s", d.Urgency, strings.Join(urgencies, ", "), suggest(d.Urgency, urgencies))
	}
	return ps
}

// Impacts lists the impact levels of the matrix, sorted.
func (q *Queue) Impacts() []string { return sortedKeys(q.Priority.Matrix) }

// Urgencies lists every urgency level used in the matrix, sorted.
func (q *Queue) Urgencies() []string {
	set := map[string]bool{}
	for _, row := range q.Priority.Matrix {
		for u := range row {
			set[u] = true
		}
	}
	return sortedKeys(set)
}

// PriorityOf looks up the priority of an impact and urgency; ok is false for unknown levels.
func (q *Queue) PriorityOf(impact, urgency string) (priority string, ok bool) {
	priority, ok = q.Priority.Matrix[impact][urgency]
	return priority, ok
}

// StageIndex returns the position of a stage in the queue, or -1.
func (q *Queue) StageIndex(id string) int {
	return slices.IndexFunc(q.Stages, func(s Stage) bool { return s.ID == id })
}
