package process

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The golden files are rewritten with: go test ./process/ -run Graph -update
// (update is declared in golden_test.go).

var graphFormats = []struct{ format, ext string }{{"mermaid", "mmd"}, {"dot", "dot"}}

func TestGraphGolden(t *testing.T) {
	c, err := LoadDir("../definitions")
	require.NoError(t, err)
	for _, key := range []string{"billing", "technical-support", "repair", "installation", "maintenance"} {
		def, ok := c.Definition(key)
		require.True(t, ok, key)
		for _, f := range graphFormats {
			t.Run(key+"."+f.ext, func(t *testing.T) {
				got, err := Graph(def, f.format)
				require.NoError(t, err)
				again, err := Graph(def, f.format)
				require.NoError(t, err)
				require.Equal(t, got, again, "the output must not change from one call to the next")
				path := filepath.Join("testdata", "graph", key+"."+f.ext)
				if *update {
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "no golden file: go test ./process/ -run Graph -update")
				require.Equal(t, string(want), got)
			})
		}
	}
}

func TestGraphEscaping(t *testing.T) {
	tests := []struct {
		in, mermaid, dot string
	}{
		{`plain text`, `plain text`, `"plain text"`},
		{`say "hi"`, `say #quot;hi#quot;`, `"say \"hi\""`},
		{`a < b && c > d`, `a #lt; b #amp;#amp; c #gt; d`, `"a &lt; b &amp;&amp; c &gt; d"`},
		{"two\nlines", `two<br>lines`, `"two\nlines"`},
		{"crlf\r\nline", `crlf<br>line`, `"crlf\nline"`},
		{`fields["x"] (y) {z}`, `fields[#quot;x#quot;] (y) {z}`, `"fields[\"x\"] (y) {z}"`},
		{`a|b #1 ` + "`code`", `a#124;b #35;1 #96;code#96;`, `"a|b #1 ` + "`code`" + `"`},
		{`#quot; stays text`, `#35;quot; stays text`, `"#quot; stays text"`},
		{`back\slash \n`, `back\slash \n`, `"back\\slash \\n"`},
		{`&amp;`, `#amp;amp;`, `"&amp;amp;"`},
		{`flow direction LR here`, `flow directio#110; LR here`, `"flow direction LR here"`},
		{`→ ünïcode`, `→ ünïcode`, `"→ ünïcode"`},
		{`style: x#"y";`, `#115;tyle: x#35;#quot;y#quot;;`, `"style: x#\"y\";"`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.mermaid, mermaidText(tt.in), "mermaid: %q", tt.in)
		require.Equal(t, tt.dot, dotString(tt.in), "dot: %q", tt.in)
	}
}

// everyNode is a work-order type that uses all 13 node types, node ids that clean up to the same
// identifier (a-b, a_b), conditions on nodes, and labels full of characters to escape.
const everyNode = `apiVersion: fieldflow/v1
kind: WorkOrderType
key: every-node
title: 'Every node: "all" <types> & more'
stages:
  - {id: new, state: new}
  - {id: work, title: 'Work | <fast> & "clean"', state: in_progress}
  - {id: closed, state: closed}
automations:
  - on: closed
    when: '= order.region == "north"'
    do: [{webhook: {url: "https://example.com/closed?a=1&b=2"}}]
nodes:
  - id: route
    type: decision
    cases:
      - {when: '= order.subject == "a|b" && order.region != "<x>"', next: a-b}
      - {when: '= order.region == "north"', next: wait}
    default: a_b
  - id: a-b
    type: approval
    stage: work
    approvers: [{role: supervisor}, {contact: true}]
    mode: all
    timeout: 1d
    onTimeout: approve
    onReject: closed-bad
  - id: a_b
    type: assignment
    path: [dispatcher, engineer]
  - id: offer
    type: acceptance
    timeout: 1h
    onDecline: a_b
    onTimeout: wait
    maxOffers: 2
    onExhausted: {next: stage-1}
  - id: wait
    type: timer
    duration: 2h
    when: '= order.priority == "low"'
  - id: stage-1
    type: stage
    stage: work
  - id: steps
    type: checklist
    steps: [{id: one, title: One, required: true}, {id: two, title: Two}]
  - id: tell
    type: notify
    template: msg
    to: [contact]
  - id: hook
    type: webhook
    url: "https://example.com/hook?a=1&b=2"
  - id: child
    type: convert
    recordType: every-node
  - id: rate
    type: rating
    scale: five-star
    autoComplete: 1d
  - id: survey
    type: follow_up
    agents: {user: bob}
    when: "= rating.lowest != nil && rating.lowest < 3"
  - id: check
    type: decision
    when: '= order.region != ""'
    cases: [{when: '= order.region == "x"', next: closed-bad}]
    default: done
  - id: done
    type: end
    stage: closed
  - id: closed-bad
    type: end
    stage: closed
    resolved: false
`

const msgTemplate = `apiVersion: fieldflow/v1
kind: MessageTemplate
key: msg
body: hello
`

func loadEveryNode(t *testing.T) *WorkOrderType {
	t.Helper()
	c, err := Load(map[string][]byte{"every-node.yaml": []byte(everyNode), "msg.yaml": []byte(msgTemplate)})
	require.NoError(t, err)
	w, ok := c.WorkOrderType("every-node")
	require.True(t, ok)
	types := map[NodeType]bool{}
	for _, n := range w.Nodes {
		types[n.Type] = true
	}
	require.Len(t, types, len(nodeTypes), "every node type is used")
	return w
}

// TestGraphHasEveryEdge checks that every way a node can go on (WorkOrderType.edges, which the
// validator uses too) is drawn, in both formats.
func TestGraphHasEveryEdge(t *testing.T) {
	c, err := LoadDir("../definitions")
	require.NoError(t, err)
	types := append(c.WorkOrderTypes(), loadEveryNode(t))
	for _, w := range types {
		g := workOrderGraph(w)
		id := func(node string) string { return g.ids.id("node", node) }
		seen := map[string]string{}
		for _, n := range w.Nodes {
			prev, dup := seen[id(n.ID)]
			require.False(t, dup, "%s: nodes %q and %q share the id %s", w.Key, prev, n.ID, id(n.ID))
			seen[id(n.ID)] = n.ID
		}
		mermaid, err := Graph(w, "mermaid")
		require.NoError(t, err)
		dot, err := Graph(w, "dot")
		require.NoError(t, err)
		count := 0
		for _, n := range w.Nodes {
			for _, to := range w.edges(n) {
				count++
				from, to := regexp.QuoteMeta(id(n.ID)), regexp.QuoteMeta(id(to))
				require.Regexp(t, `(?m)^\s*`+from+` -\.?->(\|"[^"]*"\|)? `+to+`$`, mermaid, "%s: mermaid edge %s -> %s", w.Key, n.ID, to)
				require.Regexp(t, `(?m)^\s*"`+from+`" -> "`+to+`"( \[.*\])?;$`, dot, "%s: dot edge %s -> %s", w.Key, n.ID, to)
			}
		}
		require.NotZero(t, count, w.Key)
	}
}

// TestGraphWellFormed checks every line of the output against the few statement forms the
// renderers write, so a label that is not escaped cannot break out of its quotes.
func TestGraphWellFormed(t *testing.T) {
	mermaidLine := regexp.MustCompile(`^(%% .*` +
		`|flowchart (LR|TB)` +
		`|\s+subgraph [A-Za-z0-9_]+\["[^"]*"\]` +
		`|\s+end` +
		`|\s+[A-Za-z0-9_]+(\["[^"]*"\]|\("[^"]*"\)|\[\["[^"]*"\]\]|\{"[^"]*"\}|\(\["[^"]*"\]\)|>"[^"]*"\])` +
		`|\s+[A-Za-z0-9_]+ -\.?->(\|"[^"|]*"\|)? [A-Za-z0-9_]+` +
		`|\s+classDef note .*` +
		`|\s+class [A-Za-z0-9_]+ note)$`)
	dotQuoted := `"([^"\\]|\\.)*"`
	dotLine := regexp.MustCompile(`^(// .*` +
		`|digraph ` + dotQuoted + ` \{` +
		`|\s+\w+=(` + dotQuoted + `|\w+);` +
		`|\s+(node|edge) \[[^"]*(` + dotQuoted + `[^"]*)*\];` +
		`|\s+subgraph ` + dotQuoted + ` \{` +
		`|\s+\}` +
		`|\s+` + dotQuoted + ` \[label=` + dotQuoted + `(, \w+=(\w+|` + dotQuoted + `))*\];` +
		`|\s+` + dotQuoted + ` -> ` + dotQuoted + `( \[(label=` + dotQuoted + `)?(, )?(style=dashed)?\])?;` +
		`|\})$`)
	c, err := LoadDir("../definitions")
	require.NoError(t, err)
	defs := []any{loadEveryNode(t)}
	for _, q := range c.Queues() {
		defs = append(defs, q)
	}
	for _, w := range c.WorkOrderTypes() {
		defs = append(defs, w)
	}
	for _, def := range defs {
		out, err := Graph(def, "mermaid")
		require.NoError(t, err)
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			require.Regexp(t, mermaidLine, line)
		}
		out, err = Graph(def, "dot")
		require.NoError(t, err)
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			require.Regexp(t, dotLine, line)
		}
	}
	// The escaped texts of the every-node type.
	out, err := Graph(loadEveryNode(t), "mermaid")
	require.NoError(t, err)
	require.Contains(t, out, `subgraph stage_work["Stage: Work #124; #lt;fast#gt; #amp; #quot;clean#quot; (work)"]`)
	require.Contains(t, out, `node_route -->|"order.subject == #quot;a#124;b#quot; #amp;#amp; order.region != #quot;#lt;x#gt;#quot;"| node_a_b`)
	require.Contains(t, out, `node_route -->|"default"| node_a_b_2`)
	require.Contains(t, out, `node_wait -.->|"skipped"| node_stage_1`)
	out, err = Graph(loadEveryNode(t), "dot")
	require.NoError(t, err)
	require.Contains(t, out, `label="Every node: \"all\" &lt;types&gt; &amp; more";`)
	require.Contains(t, out, `"node_route" -> "node_a_b" [label="order.subject == \"a|b\" &amp;&amp; order.region != \"&lt;x&gt;\""];`)
}

func TestGraphQueueMoves(t *testing.T) {
	c, err := LoadDir("../definitions")
	require.NoError(t, err)
	q, ok := c.Queue("billing")
	require.True(t, ok)
	out, err := Graph(q, "mermaid")
	require.NoError(t, err)
	for _, line := range []string{
		`stage_new -->|"progress"| stage_investigation`,
		`stage_investigation -.->|"regress"| stage_new`,
		`stage_proposal -->|"progress"| approval_proposal`,
		`approval_proposal -->|"approved"| stage_response`,
		`approval_proposal -.->|"rejected, timeout"| stage_proposal`,
		`stage_response -->|"close"| stage_closed`,
	} {
		require.Contains(t, out, "    "+line+"\n")
	}
	for i, s := range q.Stages[:len(q.Stages)-1] {
		require.Contains(t, out, "    stage_"+s.ID+` -->|"close"| stage_closed`+"\n", "stage %d", i)
	}
	require.NotContains(t, out, `stage_response -->|"progress"|`, "progress never enters the closed stage")
}

func TestGraphErrors(t *testing.T) {
	_, err := Graph(&Queue{}, "svg")
	require.EqualError(t, err, `graph format "svg" is not supported: use mermaid or dot`)
	_, err = Graph(Queue{}, "mermaid")
	require.ErrorContains(t, err, "process.Queue is not a *Queue or a *WorkOrderType")
	_, err = Graph((*WorkOrderType)(nil), "dot")
	require.Error(t, err)
	_, err = Graph(nil, "dot")
	require.Error(t, err)
}
