package mailintake

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzLimits are small, so the fuzzer meets every limit.
var fuzzLimits = Limits{AttachmentBytes: 1 << 10, AttachmentsBytes: 2 << 10, BodyRunes: 300, Parts: 12, Depth: 3}

// FuzzParse feeds the email parser arbitrary bytes (seeds: real-looking messages, also the corpus in
// testdata/fuzz/FuzzParse). It must never panic; a refusal is a *MalformedError or a
// *TooLargeError; an accepted message has an ID, text that is valid UTF-8 without NUL bytes (it
// goes into PostgreSQL text columns), within the limits, and attachments within their limits whose
// names are plain file names.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"From: Ada <ada@example.com>\r\nTo: service@fieldflow.test\r\nSubject: Boiler leaking\r\n\r\nThe boiler leaks.\r\n",
		"From: =?utf-8?q?Ad=C3=A9?= <ADA@Example.com>\r\nTo: a@b, c@d\r\nCc: e@f\r\nSubject: =?iso-8859-1?q?Caf=E9?=\r\nMessage-Id: <1@x>\r\n\r\nhi",
		"From: a@b\r\nContent-Type: text/html; charset=windows-1252\r\n\r\n<p>Hello<br>world</p><script>x</script><style>y</style>&eacute;\x80",
		"From: a@b\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9=\r\n--X\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--X--\r\n",
		"From: a@b\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\nContent-Type: multipart/related; boundary=B\r\n\r\n--B\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n--B--\r\n--A--\r\n",
		"From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nno boundary",
		"From: a@b\r\nContent-Type: application/octet-stream; name=\"=?utf-8?b?w6kucGRm?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64",
		"From: a@b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d\r\n\r\ninner",
		"From: a@b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nnul \x00 and bad \xff\xfe utf-8",
		"not a message", "", "\r\n\r\n", "From: a@b\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw, fuzzLimits)
		if err != nil {
			var malformed *MalformedError
			var tooLarge *TooLargeError
			if !errors.As(err, &malformed) && !errors.As(err, &tooLarge) {
				t.Fatalf("Parse returned %T: %v", err, err)
			}
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if m.ID == "" {
			t.Fatal("a message without an ID")
		}
		for what, s := range map[string]string{"subject": m.Subject, "body": m.Body, "from": m.From.Address, "from name": m.From.Name} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("the %s is not UTF-8 text PostgreSQL takes: %q", what, s)
			}
		}
		if n := utf8.RuneCountInString(m.Body); n > fuzzLimits.BodyRunes+len("\n[… the rest of the message is not shown]") {
			t.Fatalf("the body has %d characters, more than the limit %d", n, fuzzLimits.BodyRunes)
		}
		var total int64
		for _, a := range m.Attachments {
			if int64(len(a.Data)) > fuzzLimits.AttachmentBytes {
				t.Fatalf("attachment %q has %d bytes, more than the limit", a.Name, len(a.Data))
			}
			total += int64(len(a.Data))
			if a.Name == "" || a.Name == "." || a.Name == ".." || strings.ContainsAny(a.Name, "/\\\x00") || !utf8.ValidString(a.Name) {
				t.Fatalf("attachment name %q is not a plain file name", a.Name)
			}
		}
		if total > fuzzLimits.AttachmentsBytes {
			t.Fatalf("attachments of %d bytes, more than the limit", total)
		}
		if len(m.Attachments)+1 > fuzzLimits.Parts+1 {
			t.Fatalf("%d attachments, more than the parts limit", len(m.Attachments))
		}
	})
}
