package process

import "slices"

// PriorityModel derives a record's priority from its impact and urgency.
type PriorityModel struct {
	Default ImpactUrgency `yaml:"default" json:"default"`
	// Matrix maps impact, then urgency, to a priority.
	Matrix map[string]map[string]string `yaml:"matrix" json:"matrix"`
	// Levels lists the priorities from the most to the least urgent; derived from the matrix when
	// not given (critical, high, medium, low first, then the others in alphabetical order).
	Levels []string `yaml:"levels" json:"levels"`
}

// ImpactUrgency is a pair of levels.
type ImpactUrgency struct {
	Impact  string `yaml:"impact" json:"impact"`
	Urgency string `yaml:"urgency" json:"urgency"`
}

// defaultMatrix is the usual three-by-three model, used when a process declares none.
func defaultMatrix() map[string]map[string]string {
	return map[string]map[string]string{
		"high":   {"high": "critical", "medium": "high", "low": "medium"},
		"medium": {"high": "high", "medium": "medium", "low": "low"},
		"low":    {"high": "medium", "medium": "low", "low": "low"},
	}
}

var usualLevels = []string{"critical", "high", "medium", "low"}

// derivedLevels lists the priorities used in the matrix, the usual ones first.
func (m PriorityModel) derivedLevels() []string {
	set := map[string]bool{}
	for _, row := range m.Matrix {
		for _, p := range row {
			if p != "" {
				set[p] = true
			}
		}
	}
	var levels []string
	for _, p := range usualLevels {
		if set[p] {
			levels = append(levels, p)
			delete(set, p)
		}
	}
	return append(levels, sortedKeys(set)...)
}

// PriorityOf looks up the priority of an impact and urgency; ok is false for unknown levels.
func (m PriorityModel) PriorityOf(impact, urgency string) (priority string, ok bool) {
	priority, ok = m.Matrix[impact][urgency]
	return priority, ok
}

// Impacts lists the impact levels of the matrix, sorted.
func (m PriorityModel) Impacts() []string { return sortedKeys(m.Matrix) }

// Urgencies lists every urgency level used in the matrix, sorted.
func (m PriorityModel) Urgencies() []string {
	set := map[string]bool{}
	for _, row := range m.Matrix {
		for u := range row {
			set[u] = true
		}
	}
	return sortedKeys(set)
}

// HasPriority reports whether p is one of the model's priorities.
func (m PriorityModel) HasPriority(p string) bool { return slices.Contains(m.Levels, p) }
