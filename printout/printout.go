// Package printout renders a service request as an HTML document: the page staff print and the
// message a contact receives when the request is emailed to them.
package printout

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"github.com/fieldflow/fieldflow/process"
)

var page = template.Must(template.New("request").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"whenp": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"money": func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"deref": func(b *bool) bool { return b != nil && *b },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.R.Number}} · {{.R.Subject}}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#111}
h1{font-size:1.4rem;margin:0 0 .2rem}table{border-collapse:collapse;width:100%;margin:.6rem 0 1.2rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}th{width:11rem;color:#444;font-weight:600}
.num{text-align:right}@media print{body{margin:0}}</style></head>
<body>
<h1>{{.R.Number}} · {{.R.Subject}}</h1>
<p>{{.QueueTitle}} · {{.R.Stage}} ({{.R.State}}) · priority {{.R.Priority}}</p>
<table>
<tr><th>Contact</th><td>{{.R.Contact.Name}} {{.R.Contact.Email}} {{.R.Contact.Phone}}</td></tr>
<tr><th>Owner / team</th><td>{{or .R.Owner "—"}} / {{or .R.Team "—"}}</td></tr>
<tr><th>Created</th><td>{{when .R.CreatedAt}}</td></tr>
<tr><th>Due</th><td>{{whenp .R.SLA.DueAt}} ({{.R.SLA.Status}})</td></tr>
{{if .R.ClosedAt}}<tr><th>Closed</th><td>{{whenp .R.ClosedAt}}{{if .R.Resolved}} · {{if deref .R.Resolved}}resolved{{else}}not resolved{{end}}{{end}}{{if .R.Resolution}}: {{.R.Resolution}}{{end}}</td></tr>{{end}}
{{if .R.Categories}}<tr><th>Categories</th><td>{{range $i, $c := .R.Categories}}{{if $i}}, {{end}}{{$c}}{{end}}</td></tr>{{end}}
{{if .R.Address}}<tr><th>Address</th><td>{{.R.Address.Line1}} {{.R.Address.Line2}} {{.R.Address.Postcode}} {{.R.Address.City}} {{.R.Address.Country}}</td></tr>{{end}}
{{if .R.AffectedService}}<tr><th>Affected service</th><td>{{.R.AffectedService}}</td></tr>{{end}}
</table>
{{if .R.Description}}<h2>Description</h2><p>{{.R.Description}}</p>{{end}}
{{if .R.Charges}}<h2>Charges</h2>
<table><tr><th>Item</th><th class="num">Qty</th><th class="num">Price</th><th class="num">Amount</th></tr>
{{range .R.Charges}}<tr><td>{{.Description}} ({{.Kind}})</td><td class="num">{{.Quantity}}</td><td class="num">{{money .UnitPrice}}</td><td class="num">{{money .Amount}}</td></tr>{{end}}
<tr><th>Total</th><td></td><td></td><td class="num"><strong>{{money .Total}}</strong></td></tr></table>
{{if .R.Invoice}}<p>Invoice {{.R.Invoice.Number}} issued {{when .R.Invoice.IssuedAt}}.</p>{{end}}{{end}}
</body></html>
`))

// Render writes the request as an HTML page. Internal notes are left out: the page may go to the
// contact.
func Render(sr process.ServiceRequest, queueTitle string) (string, error) {
	total := 0.0
	for _, c := range sr.Charges {
		total += c.Amount
	}
	var b bytes.Buffer
	if err := page.Execute(&b, struct {
		R          process.ServiceRequest
		QueueTitle string
		Total      float64
	}{sr, queueTitle, total}); err != nil {
		return "", fmt.Errorf("printout: %w", err)
	}
	return b.String(), nil
}
