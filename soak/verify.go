package soak

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// verdict is what the verifier found for one run.
type verdict struct {
	expected   int // acknowledged actions
	verified   int // acknowledged actions found in the history exactly as often as sent
	lost       int
	duplicated int
	invoices   int
	wantInv    int
	problems   []string
}

func (v verdict) ok() bool { return v.lost == 0 && v.duplicated == 0 && len(v.problems) == 0 }

// verifyRun reads a run back from the API and compares it with the driver's log.
func (d *driver) verifyRun(ctx context.Context, db *pgx.Conn, r *Trace) verdict {
	var v verdict
	var want []string
	var optional []string // the events of an action no answer acknowledged: it may have happened
	for i, a := range r.Actions {
		if a.Acked {
			v.expected++
			want = append(want, a.Events...)
		} else if i == len(r.Actions)-1 {
			optional = a.Events
		}
	}
	if r.ID == "" {
		if v.expected > 0 {
			v.problems = append(v.problems, "created, but the answer had no id")
		}
		return v
	}
	user, base := "alice", "/v1/service-requests/"+r.ID
	if r.Kind == "work-order" {
		user, base = "dan", "/v1/work-orders/"+r.ID
	}
	rec, err := d.c.get(ctx, user, base)
	if err != nil {
		v.problems = append(v.problems, err.Error())
		return v
	}
	events, err := d.c.get(ctx, user, base+"/events")
	if err != nil {
		v.problems = append(v.problems, err.Error())
		return v
	}
	got := eventTypes(events, true)
	missing, extra := diff(want, got)
	if len(optional) > 0 && len(extra) > 0 {
		// The unacknowledged last action took effect: that is allowed, once.
		if m, e := diff(optional, extra); len(m) == 0 {
			extra = e
		}
	}
	v.lost, v.duplicated = len(missing), len(extra)
	v.verified = v.expected - countActions(r, missing)
	if len(missing) > 0 {
		v.problems = append(v.problems, fmt.Sprintf("acknowledged but missing from the events: %v", missing))
	}
	if len(extra) > 0 {
		v.problems = append(v.problems, fmt.Sprintf("in the events more often than acknowledged: %v (events %v)", extra, got))
	}
	if !r.Done {
		v.problems = append(v.problems, "script did not finish: "+r.Failed)
		return v
	}
	system := eventTypes(events, false)
	if state, _ := rec["state"].(string); state != "closed" {
		v.problems = append(v.problems, fmt.Sprintf("stuck: state %q at node %v, stage %v, want closed", state, rec["node"], rec["stage"]))
	}
	if n := count(system, "notification_sent"); n != 1 {
		v.problems = append(v.problems, fmt.Sprintf("%d notification_sent events, want 1 (events %v)", n, system))
	}
	if n := count(system, "notification_failed"); n != 0 {
		v.problems = append(v.problems, fmt.Sprintf("%d notification_failed events", n))
	}
	switch r.Kind {
	case "service-request":
		if n := lenOf(rec["charges"]); n != r.charges {
			v.problems = append(v.problems, fmt.Sprintf("%d charges on the record, %d acknowledged", n, r.charges))
		}
		if n := lenOf(rec["notes"]); n != r.notes {
			v.problems = append(v.problems, fmt.Sprintf("%d notes on the record, %d acknowledged", n, r.notes))
		}
		if r.Resolved() && r.charges > 0 {
			v.wantInv = 1
		}
		inv, _ := rec["invoice"].(map[string]any)
		var rows int
		var total float64
		if err := db.QueryRow(ctx, `SELECT count(*), coalesce(sum(total), 0)::float8 FROM invoices WHERE request_id = $1`, r.ID).Scan(&rows, &total); err != nil {
			v.problems = append(v.problems, "read invoices: "+err.Error())
			return v
		}
		v.invoices = rows
		if n := count(system, "invoice_issued"); n != v.wantInv {
			v.problems = append(v.problems, fmt.Sprintf("%d invoice_issued events, want %d", n, v.wantInv))
		}
		switch {
		case rows != v.wantInv:
			v.problems = append(v.problems, fmt.Sprintf("%d invoices in the database, want %d", rows, v.wantInv))
		case v.wantInv == 1 && (inv == nil || math.Abs(total-r.chargeTotal) > 0.001):
			v.problems = append(v.problems, fmt.Sprintf("invoice %v with total %.2f, want the charges' %.2f", inv, total, r.chargeTotal))
		case v.wantInv == 0 && inv != nil:
			v.problems = append(v.problems, fmt.Sprintf("invoice %v on a request closed unresolved", inv))
		}
		if rows > v.wantInv {
			v.duplicated += rows - v.wantInv
		}
	default:
		if n, _ := rec["laborMinutes"].(float64); int(n) != r.labor {
			v.problems = append(v.problems, fmt.Sprintf("laborMinutes %v, %d acknowledged", rec["laborMinutes"], r.labor))
		}
		if n := lenOf(rec["attachments"]); n != r.attachments {
			v.problems = append(v.problems, fmt.Sprintf("%d attachments, %d acknowledged", n, r.attachments))
		}
	}
	return v
}

// mailVerdict counts the mail each finished run's contact received: one message (one Message-ID)
// each. The same Message-ID received twice is a redelivery after a crash between sending and
// recording — the recipient's client shows it once — and is counted apart.
type mailVerdict struct {
	expected, distinct, redelivered, duplicated int
	problems                                    []string
}

func verifyMail(runs []*Trace, mail []Mail) mailVerdict {
	byRcpt := map[string]map[string]int{}
	for _, m := range mail {
		for _, to := range m.To {
			if byRcpt[to] == nil {
				byRcpt[to] = map[string]int{}
			}
			byRcpt[to][m.MessageID]++
		}
	}
	var v mailVerdict
	for _, r := range runs {
		if !r.Done {
			continue
		}
		v.expected++
		ids := byRcpt[strings.ToLower(r.Contact)]
		v.distinct += len(ids)
		for id, n := range ids {
			v.redelivered += n - 1
			if id == "" {
				v.problems = append(v.problems, fmt.Sprintf("%s: a message without a Message-ID", r.Label))
			}
		}
		switch {
		case len(ids) == 0:
			v.problems = append(v.problems, fmt.Sprintf("%s (%s): no email to %s", r.Label, r.Number, r.Contact))
		case len(ids) > 1:
			v.duplicated += len(ids) - 1
			v.problems = append(v.problems, fmt.Sprintf("%s (%s): %d different messages to %s", r.Label, r.Number, len(ids), r.Contact))
		}
	}
	return v
}

// settle verifies every run, again and again until all pass or the time is up; the runs still
// failing then are reported (stuck, lost or duplicated).
func (d *driver) settle(ctx context.Context, db *pgx.Conn, mb *Mailbox, within time.Duration, rep *Report) {
	deadline := time.Now().Add(within)
	runs := d.Runs()
	// A run that passed is not read again until every run has passed; then all are read once more,
	// so an event written twice late is seen too.
	passed := map[*Trace]verdict{}
	final := false
	for {
		rep.Acknowledged, rep.Verified, rep.Lost, rep.Duplicated = 0, 0, 0, 0
		rep.Invoices, rep.InvoicesExpected = 0, 0
		rep.Problems = nil
		for _, r := range runs {
			v, ok := passed[r]
			if !ok || final {
				v = d.verifyRun(ctx, db, r)
			}
			if v.ok() && !final {
				passed[r] = v
			}
			rep.Acknowledged += v.expected
			rep.Verified += v.verified
			rep.Lost += v.lost
			rep.Duplicated += v.duplicated
			rep.Invoices += v.invoices
			rep.InvoicesExpected += v.wantInv
			for _, p := range v.problems {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s (%s): %s", r.Label, r.ID, r.Number, p))
			}
		}
		mv := verifyMail(runs, mb.Messages())
		rep.Emails, rep.EmailsExpected, rep.EmailsRedelivered = mv.distinct, mv.expected, mv.redelivered
		rep.Duplicated += mv.duplicated
		rep.Problems = append(rep.Problems, mv.problems...)
		if len(rep.Problems) == 0 && !final {
			final = true
			continue
		}
		if final || time.Now().After(deadline) || ctx.Err() != nil {
			sort.Strings(rep.Problems)
			return
		}
		sleep(ctx, 2*time.Second)
	}
}

// diff returns what want has more of than got, and what got has more of than want (multisets).
func diff(want, got []string) (missing, extra []string) {
	n := map[string]int{}
	for _, w := range want {
		n[w]++
	}
	for _, g := range got {
		n[g]--
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for i := 0; i < n[k]; i++ {
			missing = append(missing, k)
		}
		for i := 0; i < -n[k]; i++ {
			extra = append(extra, k)
		}
	}
	return missing, extra
}

// countActions is how many acknowledged actions the missing events belong to (an action leaving
// two events counts once).
func countActions(r *Trace, missing []string) int {
	left := map[string]int{}
	for _, m := range missing {
		left[m]++
	}
	n := 0
	for _, a := range r.Actions {
		if !a.Acked {
			continue
		}
		hit := false
		for _, e := range a.Events {
			if left[e] > 0 {
				left[e]--
				hit = true
			}
		}
		if hit {
			n++
		}
	}
	return n
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func lenOf(v any) int {
	s, _ := v.([]any)
	return len(s)
}
