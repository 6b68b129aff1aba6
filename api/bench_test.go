package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fieldflow/fieldflow/process"
	"github.com/gin-gonic/gin"
)

// The API's JSON benchmarks (issue 8): encoding a full record as writeJSON does and decoding a
// creation body as bindJSON does. They need no database: the package's TestMain starts PostgreSQL
// for the tests of package api_test all the same.

var benchNow = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// benchRecords runs a billing request and a repair order through the interpreter, so that every
// list of the records the API returns has entries: notes, charges, approvals, stages passed,
// checklist steps, attachments, a rating.
func benchRecords(b *testing.B) (process.ServiceRequest, process.WorkOrder) {
	b.Helper()
	c, err := process.LoadDir("../definitions")
	if err != nil {
		b.Fatal(err)
	}
	q, _ := c.Queue("billing")
	sr, _, err := process.CreateServiceRequest(q, process.NewServiceRequest{ID: "0193a6f1-7b2c-7c4e-9f3a-1d2e3f4a5b6c", Number: "SR-2026-000042",
		Queue: q.Key, Subject: "Invoice 1043 charged twice", Description: "The November invoice was charged to my card twice.",
		Contact: process.Contact{ID: "c-1", Name: "Ann Smith", Email: "ann@example.com", Phone: "+35799000000"},
		Impact:  "high", Urgency: "medium", Categories: []string{"invoice/dispute"}, Tags: []string{"vip", "card"},
		Address: &process.Address{Line1: "1 Main Street", City: "Nicosia", Postcode: "1010", Country: "CY"}}, "alice", benchNow)
	if err != nil {
		b.Fatal(err)
	}
	note := "Called the bank; the second charge is pending."
	desc, qty, price := "Refund of the double charge", 1.0, 180.0
	for _, a := range []process.Action{
		{Kind: process.ActionProgress},
		{Kind: process.ActionAddNote, NoteInput: &process.NoteInput{Text: &note}},
		{Kind: process.ActionAddNote, NoteInput: &process.NoteInput{Text: &note}},
		{Kind: process.ActionAddCharge, Charge: &process.ChargeInput{Kind: process.ChargeService, Description: &desc, Quantity: &qty, UnitPrice: &price}},
		{Kind: process.ActionAddCharge, Charge: &process.ChargeInput{Kind: process.ChargeProduct, Description: &desc, Quantity: &qty, UnitPrice: &price}},
		{Kind: process.ActionProgress},
		{Kind: process.ActionProgress}, // leaving the proposal asks for approval: the refund is large
	} {
		a.Actor = "alice"
		if sr, _, err = process.ApplyServiceRequest(q, sr, a, benchNow); err != nil {
			b.Fatalf("%s: %v", a.Kind, err)
		}
	}

	w, _ := c.WorkOrderType("repair")
	wo, _, err := process.CreateWorkOrder(w, process.NewWorkOrder{ID: "0193a6f1-7b2c-7c4e-9f3a-1d2e3f4a5b6d", Number: "WO-2026-000042",
		RecordType: w.Key, Subject: "Air conditioner leaks", Description: "Water drips from the indoor unit.", Channel: process.ChannelAgent,
		Contact: process.Contact{ID: "c-1", Name: "Ann Smith", Email: "ann@example.com", Phone: "+35799000000"}, Account: "A-1001",
		Region: "north", Device: process.Device{Code: "AC-1", Category: "hvac", Model: "Split 12k", Serial: "S-12345"},
		Fields: map[string]string{"warranty": "active"}}, "alice", benchNow)
	if err != nil {
		b.Fatal(err)
	}
	four := 4.0
	for _, next := range []func(process.WorkOrder) process.Action{
		func(wo process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionEffectDone, EffectKind: "pick", EffectID: wo.Waiting, Result: map[string]string{"engineer": "eve"}}
		},
		func(process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionAccept, Actor: "eve"}
		},
		func(wo process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionEffectDone, EffectKind: "notify", EffectID: wo.Waiting}
		},
		func(process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionCompleteStep, Actor: "eve", StepID: "arrive"}
		},
		func(process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionCompleteStep, Actor: "eve", StepID: "diagnose", StepResult: "leak", LaborMinutes: 30, Note: "Blocked drain."}
		},
		func(process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionCompleteStep, Actor: "eve", StepID: "repair", LaborMinutes: 45}
		},
		func(process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionAddAttachment, Actor: "eve", Attachment: &process.Attachment{ID: "a1", Name: "unit.jpg", ContentType: "image/jpeg", Size: 123456, Step: "photo"}}
		},
		func(process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionCompleteStep, Actor: "eve", StepID: "photo"}
		},
		func(wo process.WorkOrder) process.Action {
			return process.Action{Kind: process.ActionRate, Actor: "contact", Score: &four, Comment: "Quick and tidy.", Invitation: wo.Rating.Invitation}
		},
	} {
		a := next(wo)
		if wo, _, err = process.ApplyWorkOrder(w, wo, a, benchNow); err != nil {
			b.Fatalf("%s: %v", a.Kind, err)
		}
	}
	if len(sr.Notes) != 2 || len(sr.Charges) != 2 || len(sr.Approvals) == 0 || len(wo.Steps) != 4 || len(wo.Ratings) != 1 || len(wo.Attachments) != 1 {
		b.Fatalf("the records are not full: %d notes, %d charges, %d approvals; %d steps, %d ratings, %d attachments",
			len(sr.Notes), len(sr.Charges), len(sr.Approvals), len(wo.Steps), len(wo.Ratings), len(wo.Attachments))
	}
	return sr, wo
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark measures the encoding.
type discardWriter struct {
	header http.Header
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkWriteJSON measures rendering a full record as writeJSON does (jsonLine.Render: the
// Content-Type, json.Marshal and the trailing newline); bytes/op in the output is the body size.
func BenchmarkWriteJSON(b *testing.B) {
	sr, wo := benchRecords(b)
	for _, tc := range []struct {
		name string
		v    any
	}{{"service_request", sr}, {"work_order", wo}} {
		b.Run(tc.name, func(b *testing.B) {
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				w.n = 0
				if err := (jsonLine{tc.v}).Render(w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.n), "body-bytes")
		})
	}
}

// BenchmarkBindJSON measures decoding creation bodies as bindJSON does (strict: unknown fields are
// refused, one value, at most 1 MiB).
func BenchmarkBindJSON(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	for _, tc := range []struct {
		name string
		body string
		into func() any
	}{
		{"create_service_request", `{"queue":"billing","contact":{"name":"Ann Smith","email":"ann@example.com","phone":"+35799000000"},` +
			`"subject":"Invoice 1043 charged twice","description":"The November invoice was charged to my card twice.",` +
			`"impact":"high","urgency":"medium","categories":["invoice/dispute"],"tags":["vip","card"],"team":"billing",` +
			`"fields":{"invoice":"1043","amount":180.5},"address":{"line1":"1 Main Street","city":"Nicosia","postcode":"1010","country":"CY"}}`,
			func() any { return &createServiceRequestBody{} }},
		{"create_work_order", `{"recordType":"repair","channel":"agent","subject":"Air conditioner leaks",` +
			`"description":"Water drips from the indoor unit.","contact":{"name":"Ann Smith","email":"ann@example.com","phone":"+35799000000"},` +
			`"account":"A-1001","region":"north","device":{"code":"AC-1","category":"hvac","model":"Split 12k","serial":"S-12345"},` +
			`"impact":"medium","urgency":"high","fields":{"warranty":"active"}}`,
			func() any { return &createWorkOrderBody{} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			body := []byte(tc.body)
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			rd := bytes.NewReader(body)
			c.Request = httptest.NewRequest(http.MethodPost, "/v1/x", nil)
			c.Request.Header.Set("Content-Type", "application/json")
			c.Request.Body = io.NopCloser(rd)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				if err := bindJSON(c, tc.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
