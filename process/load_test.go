package process

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const validQueue = `apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: billing
title: Billing
stages:
  - {id: new, state: new}
  - {id: investigation, state: in_progress}
  - {id: closed, state: closed}
`

func loadOne(t *testing.T, text string) (*Catalog, error) {
	t.Helper()
	return Load(map[string][]byte{"q.yaml": []byte(text)})
}

func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	var ps Problems
	require.ErrorAs(t, err, &ps)
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Error()
	}
	return out
}

func TestLoadShippedDefinitions(t *testing.T) {
	c, err := LoadDir("../definitions")
	require.NoError(t, err)
	for _, key := range []string{"billing", "technical-support"} {
		q, ok := c.Queue(key)
		require.True(t, ok, key)
		require.Equal(t, StateNew, q.Stages[0].State)
		require.Equal(t, StateClosed, q.Stages[len(q.Stages)-1].State)
		require.Len(t, q.Version, 12)
	}
	billing, _ := c.Queue("billing")
	require.Equal(t, []string{"new", "investigation", "proposal", "response", "closed"}, stageIDs(&billing.Process))
}

func TestLoadAppliesDefaults(t *testing.T) {
	c, err := loadOne(t, validQueue)
	require.NoError(t, err)
	q, _ := c.Queue("billing")
	require.Equal(t, DefaultNumbering, q.Numbering)
	p, ok := q.PriorityOf("medium", "medium")
	require.True(t, ok)
	require.Equal(t, "medium", p)
	require.Equal(t, ImpactUrgency{Impact: "medium", Urgency: "medium"}, q.Priority.Default)
}

func TestVersionIgnoresLayoutButNotContent(t *testing.T) {
	a, err := loadOne(t, validQueue)
	require.NoError(t, err)
	b, err := loadOne(t, "# a comment\n"+strings.ReplaceAll(validQueue, "title: Billing", "title:   Billing   # same"))
	require.NoError(t, err)
	c, err := loadOne(t, strings.ReplaceAll(validQueue, "title: Billing", "title: Billing desk"))
	require.NoError(t, err)
	qa, _ := a.Queue("billing")
	qb, _ := b.Queue("billing")
	qc, _ := c.Queue("billing")
	require.Equal(t, qa.Version, qb.Version)
	require.NotEqual(t, qa.Version, qc.Version)
}

func TestLoadReportsEveryProblemWithItsPosition(t *testing.T) {
	text := `apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: billing
titel: Billing
numbering: "SR-{yyy}-{seq}"
stages:
  - {id: new, state: new}
  - {id: work, state: in_progres}
  - {id: work, state: in_progress}
  - {id: closed, state: closed}
`
	_, err := loadOne(t, text)
	// Decoding problems come first; the semantic checks run once the file decodes.
	require.Equal(t, []string{
		`q.yaml:4:1: definition: unknown field "titel" (did you mean "title"?)`,
	}, problemsOf(t, err))

	text = strings.Replace(text, "titel", "title", 1)
	_, err = loadOne(t, text)
	require.Equal(t, []string{
		`q.yaml:5:12: numbering: unknown token {yyy}; use {yyyy}, {yy}, {mm}, {dd} or {seq:N} (did you mean "yyyy"?)`,
		`q.yaml:8:23: stage state "in_progres" is not one of new, in_progress, closed (did you mean "in_progress"?)`,
		`q.yaml:9:10: stage id "work" is already used by stages[1]`,
	}, problemsOf(t, err))
}

func TestLoadTypeErrors(t *testing.T) {
	text := `apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: billing
categories: refund
stages:
  - id: new
    state: [new]
  - {id: closed, state: closed}
  - 42
`
	_, err := loadOne(t, text)
	require.Equal(t, []string{
		`q.yaml:4:13: categories: expected a list, got "refund"`,
		`q.yaml:7:12: stages[0].state: expected text, got a list`,
		`q.yaml:9:5: stages[2]: expected a mapping of fields, got "42"`,
	}, problemsOf(t, err))
}

func TestLoadMissingRequiredFields(t *testing.T) {
	_, err := loadOne(t, "apiVersion: fieldflow/v1\nkind: ServiceRequestQueue\nstages:\n  - {state: new}\n")
	require.Equal(t, []string{
		`q.yaml:1:1: definition: missing required field "key"`,
		`q.yaml:4:5: stages[0]: missing required field "id"`,
	}, problemsOf(t, err))
}

func TestLoadStageShapeRules(t *testing.T) {
	cases := map[string]struct {
		stages string
		want   string
	}{
		"no new stage": {
			"  - {id: a, state: in_progress}\n  - {id: closed, state: closed}\n",
			"q.yaml:6:3: a process needs exactly one stage with state new; it has none",
		},
		"two new stages": {
			"  - {id: a, state: new}\n  - {id: b, state: new}\n  - {id: closed, state: closed}\n",
			`q.yaml:7:20: a process has exactly one stage with state new; "b" is the second`,
		},
		"closed not last": {
			"  - {id: a, state: new}\n  - {id: closed, state: closed}\n  - {id: b, state: in_progress}\n",
			`q.yaml:7:5: the closed stage "closed" must come last`,
		},
		"bad id": {
			"  - {id: New, state: new}\n  - {id: closed, state: closed}\n",
			`q.yaml:6:10: stage id "New" must start with a lower-case letter and use only a-z, 0-9, - and _`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := loadOne(t, "apiVersion: fieldflow/v1\nkind: ServiceRequestQueue\nkey: q\n\nstages:\n"+tc.stages)
			require.Equal(t, []string{tc.want}, problemsOf(t, err))
		})
	}
}

func TestLoadPriorityMatrixGaps(t *testing.T) {
	text := validQueue + `priority:
  default: {impact: medium, urgency: urgent}
  matrix:
    high:   {high: critical}
    medium: {high: high, low: ""}
`
	_, err := loadOne(t, text)
	require.Equal(t, []string{
		`q.yaml:10:38: default urgency "urgent" is not in the matrix (high, low)`,
		`q.yaml:12:13: the priority matrix has no priority for impact "high" and urgency "low"`,
		`q.yaml:13:31: the priority for impact "medium" and urgency "low" is empty`,
	}, problemsOf(t, err))
}

func TestLoadUnknownKindAndSyntax(t *testing.T) {
	_, err := loadOne(t, "kind: ServiceRequestQueu\n")
	require.Equal(t, []string{`q.yaml:1:7: unknown kind "ServiceRequestQueu" (use ServiceRequestQueue, WorkOrderType, Calendar, MessageTemplate, RatingTemplate, Mailbox, Scenario) (did you mean "ServiceRequestQueue"?)`}, problemsOf(t, err))

	_, err = loadOne(t, "kind: ServiceRequestQueue\nstages: [\n")
	ps := problemsOf(t, err)
	require.Len(t, ps, 1)
	require.True(t, strings.HasPrefix(ps[0], "q.yaml:2:1: YAML syntax:"), ps[0])
}

func TestLoadDuplicateKeysAcrossFiles(t *testing.T) {
	_, err := Load(map[string][]byte{"a.yaml": []byte(validQueue), "b.yaml": []byte(validQueue)})
	require.Equal(t, []string{`b.yaml:3:6: key "billing" is already defined in a.yaml`}, problemsOf(t, err))
}

func TestSuggest(t *testing.T) {
	require.Equal(t, ` (did you mean "stages"?)`, suggest("stges", []string{"key", "stages", "title"}))
	require.Equal(t, "", suggest("zzzzzz", []string{"key", "stages", "title"}))
}
