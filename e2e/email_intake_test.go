package e2e

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/smtp"
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
)

// pixel is a 1×1 PNG.
var pixel, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

// customerMail is a message as a mail program writes it: a text part and a PNG in base64.
func customerMail(t *testing.T) []byte {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	p, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}})
	require.NoError(t, err)
	_, _ = p.Write([]byte("The dishwasher leaks since this morning.\r\nAddress: 1 Main Street.\r\n"))
	p, err = w.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"image/png"},
		"Content-Disposition":       {`attachment; filename="leak.png"`},
		"Content-Transfer-Encoding": {"base64"},
	})
	require.NoError(t, err)
	_, _ = p.Write([]byte(base64.StdEncoding.EncodeToString(pixel) + "\r\n"))
	require.NoError(t, w.Close())
	return []byte("From: Carla Customer <carla@example.com>\r\n" +
		"To: service@fieldflow.local\r\n" +
		"Subject: =?UTF-8?Q?Dishwasher_leak_=E2=80=93_please_repair?=\r\n" +
		"Message-ID: <leak-42@example.com>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=" + w.Boundary() + "\r\n\r\n" + body.String())
}

// TestEmailToTheServiceMailboxBecomesAWorkOrder sends real mail over SMTP to the stack's intake and
// follows it to a work order in the API, through the real intake, Temporal run and projection.
func TestEmailToTheServiceMailboxBecomesAWorkOrder(t *testing.T) {
	stack := startStack(t, func(c *devstack.Config) { c.MailIntakeAddr = "127.0.0.1:0" })
	require.NotEmpty(t, stack.MailIntakeAddr)
	dispatcher := api{t: t, base: stack.APIURL}.as(token(t, stack, "dan", auth.RoleDispatcher))
	raw := customerMail(t)

	require.NoError(t, smtp.SendMail(stack.MailIntakeAddr, nil, "carla@example.com", []string{"service@fieldflow.local"}, raw))

	list := dispatcher.must(http.StatusOK, "GET", "/v1/work-orders?channel=email", nil)
	items := list["items"].([]any)
	require.Len(t, items, 1)
	id := items[0].(map[string]any)["id"].(string)
	wo := dispatcher.must(http.StatusOK, "GET", "/v1/work-orders/"+id, nil)
	require.Equal(t, "email", wo["channel"])
	require.Equal(t, "repair", wo["recordType"])
	require.Equal(t, "Dishwasher leak – please repair", wo["subject"])
	require.Equal(t, "The dishwasher leaks since this morning.\nAddress: 1 Main Street.", wo["description"])
	require.Regexp(t, `^WO-\d{4}-\d{6}$`, wo["number"])
	contact := wo["contact"].(map[string]any)
	require.Equal(t, "carla@example.com", contact["email"])
	require.Equal(t, "Carla Customer", contact["name"])
	require.NotEmpty(t, contact["id"], "the sender became a contact")
	require.Equal(t, "email:service", wo["createdBy"])

	attachments := wo["attachments"].([]any)
	require.Len(t, attachments, 1)
	att := attachments[0].(map[string]any)
	require.Equal(t, "leak.png", att["name"])
	require.Equal(t, "image/png", att["contentType"])
	req, err := http.NewRequest("GET", stack.APIURL+"/v1/work-orders/"+id+"/attachments/"+att["id"].(string), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+dispatcher.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	require.Equal(t, pixel, data)

	// The sender's server delivers the same message again: still one order.
	require.NoError(t, smtp.SendMail(stack.MailIntakeAddr, nil, "carla@example.com", []string{"service@fieldflow.local"}, raw))
	list = dispatcher.must(http.StatusOK, "GET", "/v1/work-orders?channel=email", nil)
	require.Len(t, list["items"].([]any), 1)
	require.Equal(t, id, list["items"].([]any)[0].(map[string]any)["id"])
	again := dispatcher.must(http.StatusOK, "GET", "/v1/work-orders/"+id, nil)
	require.Len(t, again["attachments"].([]any), 1)

	// Mail for an address no mailbox has is refused at RCPT TO.
	err = smtp.SendMail(stack.MailIntakeAddr, nil, "carla@example.com", []string{"sales@fieldflow.local"}, raw)
	var reply *textproto.Error
	require.True(t, errors.As(err, &reply), "%v", err)
	require.Equal(t, 550, reply.Code)
	list = dispatcher.must(http.StatusOK, "GET", "/v1/work-orders?channel=email", nil)
	require.Len(t, list["items"].([]any), 1)
}
