package smtptest_test

import (
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/internal/smtptest"
)

// TestReceiver: two messages sent over SMTP arrive with their envelope, their data as sent and
// their decoded text, a plain quoted-printable one and a multipart one.
func TestReceiver(t *testing.T) {
	r := smtptest.Start(t)
	plain := "From: a@example.com\r\nSubject: Hi\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 au lait, a long line that is =\r\ncontinued\r\n.dot first\r\n"
	require.NoError(t, smtp.SendMail(r.Addr(), nil, "a@example.com", []string{"b@example.com", "c@example.com"}, []byte(plain)))
	multi := "Subject: Two\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3Dy\r\n" +
		"--XX\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n--XX--\r\n"
	require.NoError(t, smtp.SendMail(r.Addr(), nil, "d@example.com", []string{"e@example.com"}, []byte(multi)))

	got := r.Wait(t, 2, 5*time.Second)
	require.Len(t, got, 2)
	require.Equal(t, "a@example.com", got[0].From)
	require.Equal(t, []string{"b@example.com", "c@example.com"}, got[0].To)
	require.Equal(t, plain, got[0].Raw, "the data as sent, dots unstuffed")
	require.Equal(t, "Café au lait, a long line that is continued\r\n.dot first\r\n", got[0].Body(t))
	require.True(t, strings.HasPrefix(got[1].Raw, "Subject: Two\r\n"))
	require.Equal(t, "x=y\n<b>hi</b>", got[1].Body(t))
	require.Equal(t, got, r.Messages())
}
