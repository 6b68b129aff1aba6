package mailintake

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// png is a 1×1 transparent PNG.
var png, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

// multipartMail writes a message with a plain text, an HTML alternative and one file, the way mail
// programs do: multipart/mixed around multipart/alternative, the file in base64.
func multipartMail(t *testing.T, headers, text, htmlText, fileName string, file []byte) []byte {
	t.Helper()
	var body bytes.Buffer
	mixed := multipart.NewWriter(&body)
	var alt bytes.Buffer
	altW := multipart.NewWriter(&alt)
	p, err := altW.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
	require.NoError(t, err)
	_, _ = p.Write([]byte(qp(text)))
	p, err = altW.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/html; charset=utf-8"}})
	require.NoError(t, err)
	_, _ = p.Write([]byte(htmlText))
	require.NoError(t, altW.Close())
	p, err = mixed.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/alternative; boundary=" + altW.Boundary()}})
	require.NoError(t, err)
	_, _ = p.Write(alt.Bytes())
	if fileName != "" {
		p, err = mixed.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {"image/png"},
			"Content-Disposition":       {`attachment; filename="` + fileName + `"`},
			"Content-Transfer-Encoding": {"base64"},
		})
		require.NoError(t, err)
		enc := base64.StdEncoding.EncodeToString(file)
		for len(enc) > 76 {
			_, _ = p.Write([]byte(enc[:76] + "\r\n"))
			enc = enc[76:]
		}
		_, _ = p.Write([]byte(enc + "\r\n"))
	}
	require.NoError(t, mixed.Close())
	head := strings.ReplaceAll(strings.TrimSpace(headers), "\n", "\r\n")
	return []byte(head + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=" + mixed.Boundary() + "\r\n\r\n" + body.String())
}

// qp encodes the few characters the tests use in quoted-printable.
func qp(s string) string {
	return strings.NewReplacer("=", "=3D", "é", "=C3=A9", "€", "=E2=82=AC").Replace(s)
}

func TestParseMultipartWithAttachment(t *testing.T) {
	raw := multipartMail(t, `From: =?UTF-8?Q?Ren=C3=A9e_Dupont?= <Renee@Example.COM>
To: Service Desk <service@fieldflow.local>, other@example.com
Cc: boss@example.com
Subject: =?UTF-8?B?Qm9pbGVyIGluIHRoZSBjYWbDqSBpcyBicm9rZW4=?=
Message-ID: <m1@example.com>`,
		"The boiler in the café stopped.\nCosts so far: 40 €, a=b.\n", "<p>The boiler <b>HTML</b></p>", "boiler.png", png)

	m, err := Parse(raw, DefaultLimits)
	require.NoError(t, err)
	require.Equal(t, "<m1@example.com>", m.ID)
	require.Equal(t, mail.Address{Name: "Renée Dupont", Address: "renee@example.com"}, m.From)
	require.Equal(t, []string{"service@fieldflow.local", "other@example.com", "boss@example.com"}, m.To)
	require.Equal(t, "Boiler in the café is broken", m.Subject)
	require.Equal(t, "The boiler in the café stopped.\nCosts so far: 40 €, a=b.", m.Body, "the plain part wins over the HTML one")
	require.Len(t, m.Attachments, 1)
	require.Equal(t, Attachment{Name: "boiler.png", ContentType: "image/png", Data: png}, m.Attachments[0])
}

func TestParseHTMLOnlyBody(t *testing.T) {
	raw := []byte("From: ann@example.com\r\nTo: service@fieldflow.local\r\nSubject: Leak\r\n" +
		"Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<html><head><title>ignored</title><style>p {color: red}</style></head><body>\r\n" +
		"<p>Water   under the <b>sink</b>,<br>since Monday.</p><script>alert(1)</script>\r\n" +
		"<div>Caf=E9 &amp; kitchen</div></body></html>\r\n")
	m, err := Parse(raw, DefaultLimits)
	require.NoError(t, err)
	require.Equal(t, "Water under the sink,\nsince Monday.\n\nCafé & kitchen", m.Body)
	require.Empty(t, m.Attachments)
	require.True(t, strings.HasPrefix(m.ID, "sha256:"), "no Message-ID: a digest names the message")
}

func TestParseDigestIgnoresRelayHeaders(t *testing.T) {
	msg := "From: ann@example.com\r\nTo: service@fieldflow.local\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\nSubject: Leak\r\n\r\nWater.\r\n"
	a, err := Parse([]byte(msg), DefaultLimits)
	require.NoError(t, err)
	b, err := Parse([]byte("Received: from relay2 by mx; Mon, 23 Nov 2026 09:05:00 +0000\r\n"+msg), DefaultLimits)
	require.NoError(t, err)
	require.Equal(t, a.ID, b.ID)
	c, err := Parse([]byte(strings.Replace(msg, "Water.", "Water!", 1)), DefaultLimits)
	require.NoError(t, err)
	require.NotEqual(t, a.ID, c.ID)
}

func TestParseAttachmentNamesAndKinds(t *testing.T) {
	raw := []byte("From: ann@example.com\r\nSubject: files\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		// RFC 2231 name, a path the sender should not have sent.
		"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''..%2F..%2Fr%C3%A9sum%C3%A9.pdf\r\n\r\n%PDF-1\r\n" +
		// RFC 2047 name in the Content-Type.
		"--XX\r\nContent-Type: text/plain; name=\"=?UTF-8?Q?notes_=C3=A9t=C3=A9.txt?=\"\r\n\r\nnotes\r\n" +
		// No name at all.
		"--XX\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@example.com\r\nSubject: fwd\r\n\r\nold\r\n" +
		"--XX--\r\n")
	m, err := Parse(raw, DefaultLimits)
	require.NoError(t, err)
	require.Equal(t, "See attached.", m.Body)
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.Name+" "+a.ContentType)
	}
	require.Equal(t, []string{"résumé.pdf application/pdf", "notes été.txt text/plain", "attachment-3.eml message/rfc822"}, names)
	require.Equal(t, "%PDF-1", string(m.Attachments[0].Data))
}

func TestParseLimits(t *testing.T) {
	big := bytes.Repeat([]byte{0x89}, 3000)
	raw := multipartMail(t, "From: ann@example.com\nSubject: photos", "two photos", "", "one.png", big)

	_, err := Parse(raw, Limits{AttachmentBytes: 2000, AttachmentsBytes: 5000})
	var tooLarge *TooLargeError
	require.True(t, errors.As(err, &tooLarge), "%v", err)
	require.Equal(t, "one.png", tooLarge.Name)

	_, err = Parse(raw, Limits{AttachmentBytes: 4000, AttachmentsBytes: 2500})
	require.True(t, errors.As(err, &tooLarge), "%v", err)
	require.Equal(t, "", tooLarge.Name, "the sum is over")

	m, err := Parse(raw, Limits{AttachmentBytes: 4000, AttachmentsBytes: 5000, BodyRunes: 3})
	require.NoError(t, err)
	require.Equal(t, "two\n[… the rest of the message is not shown]", m.Body)

	// A bomb of nested parts stops at the depth limit.
	var nested strings.Builder
	nested.WriteString("From: ann@example.com\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := range 20 {
		fmt.Fprintf(&nested, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i, i+1)
	}
	_, err = Parse([]byte(nested.String()), DefaultLimits)
	var bad *MalformedError
	require.True(t, errors.As(err, &bad), "%v", err)
}

func TestParseMalformed(t *testing.T) {
	_, err := Parse([]byte("no headers at all"), DefaultLimits)
	var bad *MalformedError
	require.True(t, errors.As(err, &bad), "%v", err)
	_, err = Parse([]byte("From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\nbody"), DefaultLimits)
	require.True(t, errors.As(err, &bad), "%v", err)
}
