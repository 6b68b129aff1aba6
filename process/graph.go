package process

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Graph draws a process definition for designers: a *Queue as its stages with the moves between
// them, a *WorkOrderType as its nodes with the paths between them. format is "mermaid" (a
// flowchart that renders on GitHub) or "dot" (Graphviz). The output depends only on the
// definition, so the same definition always gives the same text.
func Graph(def any, format string) (string, error) {
	if format != "mermaid" && format != "dot" {
		return "", fmt.Errorf("graph format %q is not supported: use mermaid or dot", format)
	}
	var g *graph
	switch d := def.(type) {
	case *Queue:
		if d == nil {
			return "", fmt.Errorf("graph: no queue")
		}
		g = queueGraph(d)
	case *WorkOrderType:
		if d == nil {
			return "", fmt.Errorf("graph: no work-order type")
		}
		g = workOrderGraph(d)
	default:
		return "", fmt.Errorf("graph: %T is not a *Queue or a *WorkOrderType", def)
	}
	if format == "dot" {
		return g.dot(), nil
	}
	return g.mermaid(), nil
}

// graph is a drawing independent of the output format: nodes (some grouped in clusters) and
// labelled edges, in the order they are written.
type graph struct {
	key, kind, title string
	direction        string // "LR" or "TB"
	items            []graphItem
	edges            []*graphEdge
	ids              graphIDs
}

// graphItem is a node or a cluster of nodes, at the top level of the drawing.
type graphItem struct {
	node    *graphNode
	cluster *graphCluster
}

type graphShape int

const (
	shapeBox      graphShape = iota // a step that waits
	shapeRounded                    // a stage of a queue
	shapeAction                     // a step that does something and goes on
	shapeDiamond                    // a choice
	shapeTerminal                   // where the process ends
	shapeNote                       // a remark, not connected
)

type graphNode struct {
	id    string   // format-safe identifier
	lines []string // the label, one entry per line (an entry may itself hold newlines)
	shape graphShape
}

type graphCluster struct {
	id    string
	title string
	nodes []*graphNode
}

type graphEdge struct {
	from, to string
	labels   []string
	dashed   bool
	merge    bool // labels of other mergeable edges between the same nodes join this one
}

func (g *graph) add(n *graphNode) { g.items = append(g.items, graphItem{node: n}) }

// edge adds an edge. Mergeable edges between the same two nodes in the same style become one
// edge whose label lists every reason ("declined, timeout").
func (g *graph) edge(from, to, label string, dashed, merge bool) {
	if from == "" || to == "" {
		return
	}
	if merge {
		for _, e := range g.edges {
			if e.merge && e.from == from && e.to == to && e.dashed == dashed {
				if label != "" && !slices.Contains(e.labels, label) {
					e.labels = append(e.labels, label)
				}
				return
			}
		}
	}
	e := &graphEdge{from: from, to: to, dashed: dashed, merge: merge}
	if label != "" {
		e.labels = []string{label}
	}
	g.edges = append(g.edges, e)
}

// graphIDs gives every node and cluster an identifier that is safe in both formats: letters,
// digits and underscores, starting with a prefix that says what it is (so no id is a Mermaid
// keyword such as "end"). Two names that would clean up the same get distinct ids.
type graphIDs struct {
	byName map[string]string
	used   map[string]bool
}

var unsafeIDChars = regexp.MustCompile(`[^A-Za-z0-9_]`)

func (ids *graphIDs) id(prefix, name string) string {
	if ids.byName == nil {
		ids.byName, ids.used = map[string]string{}, map[string]bool{}
	}
	full := prefix + "\x00" + name
	if id, ok := ids.byName[full]; ok {
		return id
	}
	base := prefix + "_" + unsafeIDChars.ReplaceAllString(name, "_")
	id := base
	for i := 2; ids.used[id]; i++ {
		id = base + "_" + strconv.Itoa(i)
	}
	ids.byName[full], ids.used[id] = id, true
	return id
}

// queueGraph draws a queue: its stages, progress between consecutive open stages (through an
// approval where a stage has one), close from every open stage, regress back one stage.
func queueGraph(q *Queue) *graph {
	g := &graph{key: q.Key, kind: string(KindServiceRequestQueue), title: q.Title, direction: "LR"}
	stage := func(id string) string { return g.ids.id("stage", id) }
	closed := -1
	for i, s := range q.Stages {
		if s.State == StateClosed {
			closed = i
		}
	}
	open := func(i int) bool { return i >= 0 && i < len(q.Stages) && q.Stages[i].State != StateClosed }
	for _, s := range q.Stages {
		shape := shapeRounded
		if s.State == StateClosed {
			shape = shapeTerminal
		}
		g.add(&graphNode{id: stage(s.ID), lines: stageLines(&q.Process, s), shape: shape})
		if a := s.Approval; a != nil {
			g.add(&graphNode{id: g.ids.id("approval", s.ID), lines: approvalLines(*a), shape: shapeDiamond})
		}
	}
	for i, s := range q.Stages {
		if !open(i) {
			continue
		}
		from := stage(s.ID)
		if open(i + 1) {
			to := stage(q.Stages[i+1].ID)
			if a := s.Approval; a != nil {
				ap := g.ids.id("approval", s.ID)
				g.edge(from, ap, "progress", false, false)
				approved, rejected := "approved", "rejected"
				if a.OnTimeout == "approve" {
					approved += ", timeout"
				} else if a.OnTimeout == "reject" {
					rejected += ", timeout"
				}
				g.edge(ap, to, approved, false, false)
				g.edge(ap, from, rejected, true, false)
				if a.When != "" {
					g.edge(from, to, "progress, no approval needed", false, false)
				}
			} else {
				g.edge(from, to, "progress", false, false)
			}
		}
		if closed >= 0 {
			g.edge(from, stage(q.Stages[closed].ID), "close", false, false)
		}
		if i > 0 && open(i-1) {
			g.edge(from, stage(q.Stages[i-1].ID), "regress", true, false)
		}
	}
	g.notes(&q.Process)
	return g
}

func stageLines(p *Process, s Stage) []string {
	title := s.Title
	if title == "" {
		title = s.ID
	}
	state := "(" + string(s.State) + ")"
	if !strings.EqualFold(title, s.ID) {
		state = s.ID + " " + state
	}
	lines := []string{title, state}
	if p.SLA != nil && slices.Contains(p.SLA.PauseIn, s.ID) {
		lines = append(lines, "SLA clock paused")
	}
	return lines
}

func approvalLines(a Approval) []string {
	mode := string(a.Mode)
	if mode == "" {
		mode = "any"
	}
	lines := []string{fmt.Sprintf("approval (%s, %s → %s)", mode, a.Timeout, a.OnTimeout)}
	if len(a.Approvers) > 0 {
		lines = append(lines, "approvers: "+approverList(a.Approvers))
	}
	if a.When != "" {
		lines = append(lines, "when: "+exprText(a.When))
	}
	return lines
}

// exprText is an expression as a designer reads it: its code, without the leading "=".
func exprText(e Expr) string { return strings.TrimSpace(e.Code()) }

func approverList(as []Approver) string {
	names := make([]string, 0, len(as))
	for _, a := range as {
		switch {
		case a.Role != "":
			names = append(names, "role "+a.Role)
		case a.Group != "":
			names = append(names, "group "+a.Group)
		case a.User != "":
			names = append(names, "user "+a.User)
		case a.Contact:
			names = append(names, "contact")
		}
	}
	return strings.Join(names, ", ")
}

// notes adds the SLA targets and the automations as unconnected notes.
func (g *graph) notes(p *Process) {
	if s := p.SLA; s != nil {
		lines := []string{"SLA"}
		if len(s.Alert) > 0 {
			lines = append(lines, "alert while new: "+targets(p, s.Alert))
		}
		if len(s.Completion) > 0 {
			lines = append(lines, "completion: "+targets(p, s.Completion))
		}
		if len(s.PauseIn) > 0 {
			lines = append(lines, "paused in: "+strings.Join(s.PauseIn, ", "))
		}
		if len(s.OnAlert) > 0 {
			lines = append(lines, "on alert: "+actionList(s.OnAlert))
		}
		if len(s.OnBreach) > 0 {
			lines = append(lines, "on breach: "+actionList(s.OnBreach))
		}
		g.add(&graphNode{id: g.ids.id("note", "sla"), lines: lines, shape: shapeNote})
	}
	if len(p.Automations) > 0 {
		lines := []string{"Automations"}
		for _, a := range p.Automations {
			on := "on " + string(a.On)
			if a.When != "" {
				on += " when " + exprText(a.When)
			}
			lines = append(lines, on+": "+actionList(a.Do))
		}
		g.add(&graphNode{id: g.ids.id("note", "automations"), lines: lines, shape: shapeNote})
	}
}

// targets lists SLA targets from the most to the least urgent priority.
func targets(p *Process, m map[string]Duration) string {
	order := slices.Clone(p.Priority.Levels)
	for _, k := range sortedKeys(m) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	var parts []string
	for _, k := range order {
		if d, ok := m[k]; ok {
			parts = append(parts, k+" "+d.String())
		}
	}
	return strings.Join(parts, ", ")
}

func actionList(as []AutomationAction) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		switch {
		case a.Notify != nil:
			s := "notify " + a.Notify.Template + " → " + strings.Join(a.Notify.To, ", ")
			if len(a.Notify.Channels) > 0 {
				s += " (" + strings.Join(a.Notify.Channels, ", ") + ")"
			}
			parts = append(parts, s)
		case a.Webhook != nil:
			parts = append(parts, "webhook "+strings.TrimSpace(string(a.Webhook.URL)))
		case a.Convert != nil:
			parts = append(parts, "convert to "+a.Convert.RecordType)
		case a.Move != "":
			parts = append(parts, "move to "+a.Move)
		case a.Activity != nil:
			s := "activity " + a.Activity.Title + " → " + a.Activity.To
			if !a.Activity.Due.IsZero() {
				s += " (due " + a.Activity.Due.String() + ")"
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}

// workOrderGraph draws a work-order type: one node per process node, grouped by the stage the
// node puts the order in, and an edge for every way a node can go on (see WorkOrderType.edges).
func workOrderGraph(w *WorkOrderType) *graph {
	g := &graph{key: w.Key, kind: string(KindWorkOrderType), title: w.Title, direction: "TB"}
	node := func(id string) string { return g.ids.id("node", id) }
	drawn := map[string]bool{} // stage clusters already written
	for _, n := range w.Nodes {
		if _, ok := w.StageByID(n.Stage); !ok {
			g.add(workOrderNode(node(n.ID), n))
			continue
		}
		if drawn[n.Stage] {
			continue
		}
		drawn[n.Stage] = true
		s, _ := w.StageByID(n.Stage)
		title := s.Title
		if title == "" {
			title = s.ID
		}
		c := &graphCluster{id: g.ids.id("stage", s.ID), title: "Stage: " + title}
		if !strings.EqualFold(title, s.ID) {
			c.title += " (" + s.ID + ")"
		}
		for _, m := range w.Nodes {
			if m.Stage == s.ID {
				c.nodes = append(c.nodes, workOrderNode(node(m.ID), m))
			}
		}
		g.items = append(g.items, graphItem{cluster: c})
	}
	for _, n := range w.Nodes {
		from := node(n.ID)
		next := ""
		if n.Next != "" {
			next = node(n.Next)
		} else if i := w.NodeIndex(n.ID); i >= 0 && i+1 < len(w.Nodes) {
			next = node(w.Nodes[i+1].ID)
		}
		// Where the node goes when it is done.
		switch n.Type {
		case NodeEnd, NodeDecision:
		case NodeApproval:
			approved, rejected := "approved", "rejected"
			switch n.OnTimeout {
			case "approve":
				approved += ", timeout"
			case "reject":
				rejected += ", timeout"
			}
			g.edge(from, next, approved, false, true)
			if n.OnReject != "" {
				g.edge(from, node(n.OnReject), rejected, false, true)
			}
		case NodeAcceptance:
			g.edge(from, next, "accepted", false, true)
			if n.OnDecline != "" {
				g.edge(from, node(n.OnDecline), "declined", false, true)
			}
			if n.OnTimeout != "" {
				g.edge(from, node(n.OnTimeout), "timeout", false, true)
			}
			if n.MaxOffers > 0 || n.OnExhausted != nil {
				to := n.OnDecline
				if n.OnExhausted != nil && n.OnExhausted.Next != "" {
					to = n.OnExhausted.Next
				}
				if to != "" {
					g.edge(from, node(to), "exhausted", false, true)
				}
			}
		case NodeRating:
			label := "next"
			if !n.AutoComplete.IsZero() {
				label += ", auto-complete"
			}
			g.edge(from, next, label, false, true)
		case NodeFollowUp:
			label := "next"
			if !n.Timeout.IsZero() {
				label += ", timeout"
			}
			g.edge(from, next, label, false, true)
		default:
			g.edge(from, next, "next", false, true)
		}
		for _, c := range n.Cases {
			if c.Next != "" {
				g.edge(from, node(c.Next), exprText(c.When), false, false)
			}
		}
		if n.Type == NodeDecision && n.Default != "" {
			g.edge(from, node(n.Default), "default", false, false)
		}
		// Where the node goes when its condition skips it.
		if n.When != "" {
			g.edge(from, next, "skipped", true, true)
		}
	}
	g.notes(&w.Process)
	return g
}

func workOrderNode(id string, n Node) *graphNode {
	gn := &graphNode{id: id, lines: []string{fmt.Sprintf("%s (%s)", n.ID, n.Type)}, shape: shapeBox}
	add := func(format string, args ...any) { gn.lines = append(gn.lines, fmt.Sprintf(format, args...)) }
	switch n.Type {
	case NodeStage:
		add("waits for progress")
	case NodeApproval:
		mode := string(n.Mode)
		if mode == "" {
			mode = "any"
		}
		if len(n.Approvers) > 0 {
			add("approvers: %s", approverList(n.Approvers))
		}
		add("mode %s, timeout %s → %s", mode, n.Timeout, n.OnTimeout)
	case NodeAssignment:
		if len(n.Path) > 0 {
			add("path: %s", strings.Join(n.Path, " → "))
		}
		if len(n.Rules) > 0 {
			add("rules: %d", len(n.Rules))
		}
		if n.Group != "" {
			add("group: %s", strings.TrimSpace(string(n.Group)))
		}
		if n.Strategy != "" {
			add("strategy: %s", n.Strategy)
		}
	case NodeAcceptance:
		add("timeout %s", n.Timeout)
		if n.MaxOffers > 0 {
			s := fmt.Sprintf("at most %d offers", n.MaxOffers)
			if n.OnExhausted != nil && n.OnExhausted.Escalate != "" {
				s += ", then escalate to " + n.OnExhausted.Escalate
			}
			add("%s", s)
		}
	case NodeChecklist:
		required := 0
		for _, s := range n.Steps {
			if s.Required {
				required++
			}
		}
		add("%d steps, %d required", len(n.Steps), required)
	case NodeRating:
		s := "scale: " + n.Scale
		if n.Mandatory {
			s += ", mandatory"
		}
		if n.Multiple {
			s += ", multiple"
		}
		add("%s", s)
		if !n.AutoComplete.IsZero() {
			add("auto-complete after %s", n.AutoComplete)
		}
		if n.Template != "" || len(n.Rules) > 0 {
			s := "template: " + n.Template
			if len(n.Rules) > 0 {
				s += fmt.Sprintf(" (rules: %d)", len(n.Rules))
			}
			add("%s", s)
		}
	case NodeFollowUp:
		if a := n.Agents; a != nil {
			switch {
			case a.User != "":
				add("agent: user %s", a.User)
			case a.Group != "":
				add("agents: group %s", a.Group)
			case a.RoundRobin != nil:
				add("agents: round robin over %s", a.RoundRobin.Group)
			}
		}
		if len(n.Rules) > 0 {
			add("rules: %d", len(n.Rules))
		}
		if !n.Timeout.IsZero() {
			add("timeout %s", n.Timeout)
		}
		if n.Template != "" {
			add("template: %s", n.Template)
		}
	case NodeNotify:
		gn.shape = shapeAction
		add("template: %s", n.Template)
		s := "to: " + strings.Join(n.To, ", ")
		if len(n.Channels) > 0 {
			s += " (" + strings.Join(n.Channels, ", ") + ")"
		}
		add("%s", s)
	case NodeWebhook:
		gn.shape = shapeAction
		add("url: %s", strings.TrimSpace(string(n.URL)))
	case NodeConvert:
		gn.shape = shapeAction
		add("record type: %s", n.RecordType)
	case NodeDecision:
		gn.shape = shapeDiamond
	case NodeTimer:
		add("wait %s", n.Duration)
	case NodeEnd:
		gn.shape = shapeTerminal
		if n.Resolved == nil || *n.Resolved {
			add("resolved")
		} else {
			add("unresolved")
		}
	}
	if n.When != "" {
		add("when: %s", exprText(n.When))
	}
	return gn
}

// --- Mermaid ---

func (g *graph) mermaid() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%%%% %s %s: %s\n", g.kind, g.key, mermaidComment(g.title))
	fmt.Fprintf(&b, "flowchart %s\n", g.direction)
	hasNote := false
	for _, it := range g.items {
		if it.cluster != nil {
			fmt.Fprintf(&b, "    subgraph %s[\"%s\"]\n", it.cluster.id, mermaidText(it.cluster.title))
			for _, n := range it.cluster.nodes {
				b.WriteString("        " + mermaidNode(n) + "\n")
			}
			b.WriteString("    end\n")
			continue
		}
		b.WriteString("    " + mermaidNode(it.node) + "\n")
		hasNote = hasNote || it.node.shape == shapeNote
	}
	for _, e := range g.edges {
		arrow := "-->"
		if e.dashed {
			arrow = "-.->"
		}
		if len(e.labels) == 0 {
			fmt.Fprintf(&b, "    %s %s %s\n", e.from, arrow, e.to)
			continue
		}
		fmt.Fprintf(&b, "    %s %s|\"%s\"| %s\n", e.from, arrow, mermaidText(strings.Join(e.labels, ", ")), e.to)
	}
	if hasNote {
		b.WriteString("    classDef note fill:#fff8c5,stroke:#d4a72c,color:#3b2300\n")
		for _, it := range g.items {
			if it.node != nil && it.node.shape == shapeNote {
				fmt.Fprintf(&b, "    class %s note\n", it.node.id)
			}
		}
	}
	return b.String()
}

func mermaidNode(n *graphNode) string {
	open, close := "[", "]"
	switch n.shape {
	case shapeRounded:
		open, close = "(", ")"
	case shapeAction:
		open, close = "[[", "]]"
	case shapeDiamond:
		open, close = "{", "}"
	case shapeTerminal:
		open, close = "([", "])"
	case shapeNote:
		open, close = ">", "]"
	}
	text := make([]string, len(n.lines))
	for i, l := range n.lines {
		text[i] = mermaidText(l)
	}
	return n.id + open + `"` + strings.Join(text, "<br>") + `"` + close
}

// mermaidDirection matches text that Mermaid's lexer would take for a direction statement
// anywhere on a line ("direction LR").
var mermaidDirection = regexp.MustCompile(`direction(\s+(?:TB|BT|RL|LR))`)

// mermaidKeywords hides words that Mermaid's preprocessing looks for anywhere on a line: after
// "style" or "classDef" and a colon it drops the line's last ";", which may end an entity code.
var mermaidKeywords = strings.NewReplacer("style", "#115;tyle", "classDef", "#99;lassDef")

// mermaidText escapes text for a quoted Mermaid label: characters that end or confuse the label
// become entity codes (#quot;, #lt;, ...), a newline becomes <br>.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString("#quot;")
		case '#':
			b.WriteString("#35;")
		case '&':
			b.WriteString("#amp;")
		case '<':
			b.WriteString("#lt;")
		case '>':
			b.WriteString("#gt;")
		case '|':
			b.WriteString("#124;")
		case '`':
			b.WriteString("#96;")
		case '\n':
			b.WriteString("<br>")
		case '\r':
		default:
			b.WriteRune(r)
		}
	}
	return mermaidKeywords.Replace(mermaidDirection.ReplaceAllString(b.String(), "directio#110;$1"))
}

// mermaidComment makes text safe on a %% comment line.
func mermaidComment(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ", "{", "(", "}", ")").Replace(s)
}

// --- Graphviz DOT ---

func (g *graph) dot() string {
	var b strings.Builder
	fmt.Fprintf(&b, "// %s %s\n", g.kind, g.key)
	fmt.Fprintf(&b, "digraph %s {\n", dotString(g.key))
	fmt.Fprintf(&b, "    label=%s;\n", dotString(g.title))
	b.WriteString("    labelloc=t;\n")
	fmt.Fprintf(&b, "    rankdir=%s;\n", g.direction)
	b.WriteString("    fontname=\"Helvetica\";\n")
	b.WriteString("    node [fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("    edge [fontname=\"Helvetica\", fontsize=10];\n")
	for _, it := range g.items {
		if c := it.cluster; c != nil {
			fmt.Fprintf(&b, "    subgraph %s {\n", dotString("cluster_"+c.id))
			fmt.Fprintf(&b, "        label=%s;\n", dotString(c.title))
			b.WriteString("        style=\"rounded,dashed\";\n")
			b.WriteString("        color=\"gray50\";\n")
			for _, n := range c.nodes {
				b.WriteString("        " + dotNode(n) + "\n")
			}
			b.WriteString("    }\n")
			continue
		}
		b.WriteString("    " + dotNode(it.node) + "\n")
	}
	for _, e := range g.edges {
		var attrs []string
		if len(e.labels) > 0 {
			attrs = append(attrs, "label="+dotString(strings.Join(e.labels, ", ")))
		}
		if e.dashed {
			attrs = append(attrs, "style=dashed")
		}
		fmt.Fprintf(&b, "    %s -> %s", dotString(e.from), dotString(e.to))
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func dotNode(n *graphNode) string {
	var shape string
	switch n.shape {
	case shapeBox:
		shape = "shape=box"
	case shapeRounded:
		shape = "shape=box, style=rounded"
	case shapeAction:
		shape = "shape=box, peripheries=2"
	case shapeDiamond:
		shape = "shape=diamond"
	case shapeTerminal:
		shape = "shape=doublecircle"
	case shapeNote:
		shape = "shape=note, style=filled, fillcolor=\"#fff8c5\""
	}
	return fmt.Sprintf("%s [label=%s, %s];", dotString(n.id), dotString(strings.Join(n.lines, "\n")), shape)
}

// dotString quotes text as a DOT string: backslashes and quotes are escaped, newlines become
// \n, and &, < and > become entities (Graphviz decodes entities in every label).
func dotString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
