package mailintake

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// catalog serves fixed definitions.
type catalog struct{ c *process.Catalog }

func (c catalog) Current() *process.Catalog { return c.c }

// runs stands in for Temporal here (the end-to-end test in e2e/ starts real runs): like
// update-with-start, starting an order whose run exists answers that run's order. fail makes the
// next starts fail, as an unreachable server would.
type runs struct {
	mu     sync.Mutex
	orders map[string]process.WorkOrder
	starts int
	fail   int
}

func (r *runs) StartWorkOrder(_ context.Context, t *process.WorkOrderType, in process.NewWorkOrder, actor string, at time.Time) (process.WorkOrder, error) {
	preview, _, err := process.CreateWorkOrder(t, in, actor, at)
	if err != nil {
		return process.WorkOrder{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts++
	if r.fail > 0 {
		r.fail--
		return process.WorkOrder{}, errors.New("temporal: connection refused")
	}
	if wo, ok := r.orders[in.ID]; ok {
		return wo, nil
	}
	r.orders[in.ID] = preview
	return preview, nil
}

func (r *runs) all() []process.WorkOrder {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []process.WorkOrder
	for _, wo := range r.orders {
		out = append(out, wo)
	}
	return out
}

func shipped(t *testing.T) *process.Catalog {
	t.Helper()
	c, err := process.LoadDir("../definitions")
	require.NoError(t, err)
	return c
}

type fixture struct {
	srv   *Server
	store *store.Store
	runs  *runs
}

// start runs a real listener on a free port over a real database. intakeCatalog, when given, is
// what the intake service sees (the mailbox still routes by the shipped definitions).
func start(t *testing.T, limits Limits, maxBytes int64, intakeCatalog *process.Catalog) fixture {
	t.Helper()
	st := storetest.New(t)
	defs := shipped(t)
	if intakeCatalog == nil {
		intakeCatalog = defs
	}
	r := &runs{orders: map[string]process.WorkOrder{}}
	srv, err := Listen("127.0.0.1:0", Config{
		Catalog: catalog{defs}, Store: st, Logger: zaptest.NewLogger(t),
		Intake: &intake.Service{Catalog: catalog{intakeCatalog}, Store: st, Workflows: r},
		Limits: limits, MaxMessageBytes: maxBytes,
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Close(ctx))
		require.NoError(t, <-done)
	})
	return fixture{srv: srv, store: st, runs: r}
}

// replyCode is the SMTP reply code of a net/smtp error (0 when it is not a reply).
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// replyText is the text of an SMTP reply.
func replyText(err error) string {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Msg
	}
	return ""
}

const boilerHeaders = `From: "Ann Example" <Ann@Example.com>
To: Service <SERVICE@fieldflow.local>
Subject: =?UTF-8?Q?Boiler_in_the_caf=C3=A9_is_broken?=
Message-ID: <boiler-1@example.com>`

func TestMailBecomesOneWorkOrder(t *testing.T) {
	f := start(t, Limits{}, 0, nil)
	ctx := context.Background()
	raw := multipartMail(t, boilerHeaders, "No hot water since Monday.\n", "<p>No hot water</p>", "boiler.png", png)

	require.NoError(t, smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"SERVICE@fieldflow.local"}, raw))
	orders := f.runs.all()
	require.Len(t, orders, 1)
	wo := orders[0]
	require.Equal(t, intake.OrderID("email:service", "<boiler-1@example.com>"), wo.ID)
	require.Equal(t, "repair", wo.RecordType, "the subject says broken")
	require.Equal(t, process.ChannelEmail, wo.Channel)
	require.Equal(t, "Boiler in the café is broken", wo.Subject)
	require.Equal(t, "No hot water since Monday.", wo.Description)
	require.Equal(t, "Ann Example", wo.Contact.Name)
	require.Equal(t, "ann@example.com", wo.Contact.Email)
	require.NotEmpty(t, wo.Contact.ID, "the sender is matched to (or becomes) a contact")
	require.Regexp(t, `^WO-\d{4}-\d{6}$`, wo.Number)
	require.Len(t, wo.Attachments, 1)
	att := wo.Attachments[0]
	require.Equal(t, "boiler.png", att.Name)
	require.Equal(t, "image/png", att.ContentType)
	require.EqualValues(t, len(png), att.Size)
	require.Equal(t, "email:service", att.By)
	file, err := f.store.GetAttachment(ctx, wo.ID, att.ID)
	require.NoError(t, err)
	require.Equal(t, png, file.Data)

	in, err := f.store.GetInboundMail(ctx, "service", "<boiler-1@example.com>")
	require.NoError(t, err)
	require.Equal(t, wo.ID, in.OrderID)
	require.Equal(t, "ann@example.com", in.Sender)

	// The sender's server delivers it again (it lost our 250): nothing new.
	require.NoError(t, smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"service@fieldflow.local"}, raw))
	require.Len(t, f.runs.all(), 1)
	require.Equal(t, 1, f.runs.starts, "the inbound record answers a redelivery")
}

func TestUnknownRecipientIsRefusedAtRcpt(t *testing.T) {
	f := start(t, Limits{}, 0, nil)
	c, err := smtp.Dial(f.srv.Addr())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Mail("ann@example.com"))
	err = c.Rcpt("sales@fieldflow.local")
	require.Equal(t, 550, replyCode(err), "%v", err)
	require.NoError(t, c.Rcpt("service@fieldflow.local"), "the session goes on for a known address")
	require.NoError(t, c.Quit())

	err = smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"nobody@example.com"}, []byte("Subject: x\r\n\r\nx\r\n"))
	require.Equal(t, 550, replyCode(err), "%v", err)
	require.Zero(t, f.runs.starts)
}

func TestRuleRefusesAutoReplies(t *testing.T) {
	f := start(t, Limits{}, 0, nil)
	raw := []byte("From: ann@example.com\r\nTo: service@fieldflow.local\r\nSubject: Out of office: back Monday\r\nMessage-ID: <ooo@example.com>\r\n\r\nI am away.\r\n")
	err := smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"service@fieldflow.local"}, raw)
	require.Equal(t, 550, replyCode(err), "%v", err)
	require.Equal(t, "5.7.1 the service mailbox does not take this message", replyText(err))
	require.Zero(t, f.runs.starts)
	_, err = f.store.GetInboundMail(context.Background(), "service", "<ooo@example.com>")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestTemporaryFailureAsksTheSenderToRetry(t *testing.T) {
	f := start(t, Limits{}, 0, nil)
	f.runs.fail = 1
	raw := multipartMail(t, boilerHeaders, "No hot water.", "", "boiler.png", png)
	err := smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"service@fieldflow.local"}, raw)
	require.Equal(t, 451, replyCode(err), "%v", err)
	require.Empty(t, f.runs.all())

	// The retry takes it, and the file saved by the first attempt is not saved twice.
	require.NoError(t, smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"service@fieldflow.local"}, raw))
	orders := f.runs.all()
	require.Len(t, orders, 1)
	require.Len(t, orders[0].Attachments, 1)
	file, err := f.store.GetAttachment(context.Background(), orders[0].ID, orders[0].Attachments[0].ID)
	require.NoError(t, err)
	require.Equal(t, png, file.Data)
}

func TestRefusalByIntakeIs554AndKeepsNoFiles(t *testing.T) {
	// The work-order types changed under the mailbox: repair no longer takes email.
	repair, err := os.ReadFile("../definitions/work-orders/repair.yaml")
	require.NoError(t, err)
	changed := strings.Replace(string(repair), "guest, device, email, api]", "guest, device, api]", 1)
	require.NotEqual(t, string(repair), changed)
	files := map[string][]byte{}
	require.NoError(t, filepath.WalkDir("../definitions", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") && !strings.Contains(path, "mailboxes") {
			files[path] = mustRead(t, path)
		}
		return err
	}))
	files["../definitions/work-orders/repair.yaml"] = []byte(changed)
	noEmail, err := process.Load(files)
	require.NoError(t, err)
	f := start(t, Limits{}, 0, noEmail)

	raw := multipartMail(t, boilerHeaders, "No hot water.", "", "boiler.png", png)
	err = smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"service@fieldflow.local"}, raw)
	require.Equal(t, 554, replyCode(err), "%v", err)
	require.Contains(t, replyText(err), `channel "email" is not an intake channel of repair`)
	require.Zero(t, f.runs.starts)
	id := intake.OrderID("email:service", "<boiler-1@example.com>")
	_, err = f.store.GetAttachment(context.Background(), id, attachmentID("service", "<boiler-1@example.com>", 0))
	require.ErrorIs(t, err, store.ErrNotFound, "the refused message's file is removed")
}

func TestSizeLimits(t *testing.T) {
	f := start(t, Limits{AttachmentBytes: 50, AttachmentsBytes: 100, BodyRunes: 1000, Parts: 10, Depth: 3}, 4096, nil)
	raw := multipartMail(t, boilerHeaders, "photo", "", "big.png", bytes.Repeat([]byte{1}, 60))
	err := smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"service@fieldflow.local"}, raw)
	require.Equal(t, 552, replyCode(err), "%v", err)
	require.Equal(t, `5.3.4 attachment "big.png" is larger than 50 bytes`, replyText(err))

	// Over the SIZE of the whole message: go-smtp refuses the data.
	raw = multipartMail(t, boilerHeaders, strings.Repeat("long text\n", 600), "", "", nil)
	err = smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"service@fieldflow.local"}, raw)
	require.Equal(t, 552, replyCode(err), "%v", err)
	require.Zero(t, f.runs.starts)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestFilesOfTypesWorkOrdersDoNotTakeAreLeftOut(t *testing.T) {
	f := start(t, Limits{}, 0, nil)
	raw := []byte("From: ann@example.com\r\nTo: service@fieldflow.local\r\nSubject: Leak photos\r\nMessage-ID: <files@example.com>\r\n" +
		"Content-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain\r\n\r\nSee the photos.\r\n" +
		"--XX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=leak.png\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(png) + "\r\n" +
		// Says it is a photo; is a web page.
		"--XX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=photo2.png\r\n\r\n<html><script>alert(1)</script></html>\r\n" +
		"--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=setup.exe\r\n\r\nMZ\x90\x00\x03\x00\x00\x00\r\n" +
		"--XX--\r\n")
	require.NoError(t, smtp.SendMail(f.srv.Addr(), nil, "ann@example.com", []string{"service@fieldflow.local"}, raw))
	orders := f.runs.all()
	require.Len(t, orders, 1)
	wo := orders[0]
	require.Len(t, wo.Attachments, 1)
	require.Equal(t, "leak.png", wo.Attachments[0].Name)
	require.Equal(t, "See the photos.\n\n[Files not kept, of a type work orders do not take: photo2.png (text/html), setup.exe (application/octet-stream)]", wo.Description)
	_, err := f.store.GetAttachment(context.Background(), wo.ID, attachmentID("service", "<files@example.com>", 1))
	require.ErrorIs(t, err, store.ErrNotFound)
}
