package process

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// definitionFiles reads every shipped definition, by path relative to definitions/.
func definitionFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir("../definitions", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		raw, err := os.ReadFile(path)
		rel, _ := filepath.Rel("../definitions", path)
		files[rel] = raw
		return err
	})
	require.NoError(t, err)
	return files
}

// withMailboxes loads the shipped definitions with the service mailbox replaced by the given files.
func withMailboxes(t *testing.T, mailboxes map[string]string) (*Catalog, error) {
	t.Helper()
	files := definitionFiles(t)
	delete(files, "mailboxes/service.yaml")
	for name, text := range mailboxes {
		files[name] = []byte(text)
	}
	return Load(files)
}

const mailboxHead = `apiVersion: fieldflow/v1
kind: Mailbox
key: %s
`

func mailboxText(key, body string) string {
	return strings.Replace(mailboxHead, "%s", key, 1) + body
}

func TestShippedServiceMailbox(t *testing.T) {
	c, err := LoadDir("../definitions")
	require.NoError(t, err)
	m, ok := c.Mailbox("service")
	require.True(t, ok)
	require.Equal(t, "Service mailbox", m.Title)
	require.Len(t, m.Version, 12)
	src, ok := c.Source(KindMailbox, "service")
	require.True(t, ok)
	require.Equal(t, m.Version, src.Version)

	found, ok := c.MailboxFor("  Service@FieldFlow.LOCAL ")
	require.True(t, ok, "addresses match without regard to case")
	require.Same(t, m, found)
	_, ok = c.MailboxFor("sales@fieldflow.local")
	require.False(t, ok)

	for _, tc := range []struct {
		name string
		msg  MailEnv
		want MailRoute
	}{
		{"repair words", MailEnv{From: "ann@example.com", Subject: "Boiler BROKEN again"}, MailRoute{RecordType: "repair", Rule: 2}},
		{"anything else", MailEnv{From: "ann@example.com", Subject: "Question about my unit"}, MailRoute{RecordType: "repair", Rule: -1}},
		{"out of office", MailEnv{From: "ann@example.com", Subject: "Out of Office: back Monday"}, MailRoute{Rule: 0}},
		{"bounce", MailEnv{From: "mailer-daemon@example.com", Subject: "failure notice"}, MailRoute{Rule: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Route(tc.msg)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.want.RecordType == "", got.Refused())
		})
	}
}

func TestMailboxRulesFirstMatchWins(t *testing.T) {
	c, err := withMailboxes(t, map[string]string{"mailboxes/m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: '= body contains "urgent"', recordType: repair}
  - {when: '= subject startsWith "Re:" && attachments > 0', reject: true}
  - {when: '= true', recordType: repair}
`)})
	require.NoError(t, err)
	m, _ := c.Mailbox("m")
	r, err := m.Route(MailEnv{Subject: "Re: visit", Body: "urgent please", Attachments: 1})
	require.NoError(t, err)
	require.Equal(t, MailRoute{RecordType: "repair", Rule: 0}, r)
	r, err = m.Route(MailEnv{Subject: "Re: visit", Attachments: 1})
	require.NoError(t, err)
	require.Equal(t, MailRoute{Rule: 1}, r)
	require.True(t, r.Refused())
	r, err = m.Route(MailEnv{Subject: "Re: visit"})
	require.NoError(t, err)
	require.Equal(t, MailRoute{RecordType: "repair", Rule: 2}, r)
}

func TestMailboxWithoutDefaultRefusesWhatNoRuleTakes(t *testing.T) {
	c, err := withMailboxes(t, map[string]string{"mailboxes/m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: '= fromName == "Ann" && to == "a@x.test"', recordType: repair}
`)})
	require.NoError(t, err)
	m, _ := c.Mailbox("m")
	r, err := m.Route(MailEnv{FromName: "Ann", To: "a@x.test"})
	require.NoError(t, err)
	require.Equal(t, "repair", r.RecordType)
	r, err = m.Route(MailEnv{FromName: "Bob", To: "a@x.test"})
	require.NoError(t, err)
	require.True(t, r.Refused())
	require.Equal(t, -1, r.Rule)
}

func TestMailboxRuleThatFailsIsAnError(t *testing.T) {
	c, err := withMailboxes(t, map[string]string{"mailboxes/m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: '= int(subject) > 3', recordType: repair}
default: repair
`)})
	require.NoError(t, err)
	m, _ := c.Mailbox("m")
	r, err := m.Route(MailEnv{Subject: "7"})
	require.NoError(t, err)
	require.Equal(t, 0, r.Rule)
	_, err = m.Route(MailEnv{Subject: "not a number"})
	require.ErrorContains(t, err, "mailbox m: rules[0]")
}

func TestMailboxValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown record type", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test]
default: repiar
`)}, []string{`m.yaml:5:10: work-order type "repiar" is not defined in definitions/work-orders (did you mean "repair"?)`}},
		{"record type without email intake", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: '= subject matches "(?i)install"', recordType: installation}
default: repair
`)}, []string{`m.yaml:6:59: work-order type "installation" does not take email (its intake is agent, dispatcher, online-service, portal, api); add email to its intake or choose another type`}},
		{"condition that is not true or false", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: '= subject', recordType: repair}
`)}, []string{`m.yaml:6:12: expression "subject": expected bool, but got string (a condition must give true or false; it may use from, fromName, to, subject, body, attachments)`}},
		{"unknown variable", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: '= request.subject == "x"', recordType: repair}
`)}, []string{`m.yaml:6:12: expression "request.subject == \"x\"": unknown name request (1:1) (a condition must give true or false; it may use from, fromName, to, subject, body, attachments)`}},
		{"not an expression", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: 'subject == "x"', recordType: repair}
`)}, []string{`m.yaml:6:12: rules[0].when: "subject == \"x\"" is not an expression; write it with a leading "=", as in "= request.priority == 'high'"`}},
		{"rule with neither or both", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: '= true'}
  - {when: '= true', recordType: repair, reject: true}
`)}, []string{
			`m.yaml:6:5: a rule needs recordType: KEY (a work-order type) or reject: true`,
			`m.yaml:7:5: a rule either creates a work order (recordType) or refuses the message (reject: true), not both`,
		}},
		{"refuses everything", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test]
rules:
  - {when: '= true', reject: true}
`)}, []string{`m.yaml:1:1: this mailbox refuses every message: give a default record type, or a rule with a recordType`}},
		{"addresses", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test, "Desk <desk@x.test>", not-an-address, A@X.test]
default: repair
`)}, []string{
			`m.yaml:4:23: "Desk <desk@x.test>" is not a bare email address; write it like service@example.com`,
			`m.yaml:4:45: "not-an-address" is not a bare email address; write it like service@example.com`,
			`m.yaml:4:61: address "A@X.test" is listed twice (addresses[0])`,
		}},
		{"no address", map[string]string{"m.yaml": mailboxText("m", `addresses: []
default: repair
`)}, []string{`m.yaml:4:12: a mailbox needs at least one address, like service@example.com`}},
		{"address of two mailboxes", map[string]string{
			"a.yaml": mailboxText("a", "addresses: [desk@x.test]\ndefault: repair\n"),
			"b.yaml": mailboxText("b", "addresses: [other@x.test, Desk@X.test]\ndefault: repair\n"),
		}, []string{`b.yaml:4:27: address "Desk@X.test" already belongs to mailbox a (a.yaml); an address belongs to one mailbox`}},
		{"unknown field", map[string]string{"m.yaml": mailboxText("m", `addresses: [a@x.test]
defualt: repair
`)}, []string{
			`m.yaml:5:1: definition: unknown field "defualt" (did you mean "default"?)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := withMailboxes(t, tc.files)
			require.Equal(t, tc.want, problemsOf(t, err))
		})
	}
}

func TestMailboxKeysAreUniquePerKind(t *testing.T) {
	_, err := withMailboxes(t, map[string]string{
		"a.yaml": mailboxText("desk", "addresses: [a@x.test]\ndefault: repair\n"),
		"b.yaml": mailboxText("desk", "addresses: [b@x.test]\ndefault: repair\n"),
	})
	require.Equal(t, []string{`b.yaml:3:6: key "desk" is already defined in a.yaml`}, problemsOf(t, err))

	// A mailbox may share its key with a work-order type: they are different kinds.
	c, err := withMailboxes(t, map[string]string{"a.yaml": mailboxText("repair", "addresses: [a@x.test]\ndefault: repair\n")})
	require.NoError(t, err)
	_, ok := c.Mailbox("repair")
	require.True(t, ok)
}

func TestMailboxVersionFollowsContent(t *testing.T) {
	a, err := withMailboxes(t, map[string]string{"m.yaml": mailboxText("m", "addresses: [a@x.test]\ndefault: repair\n")})
	require.NoError(t, err)
	b, err := withMailboxes(t, map[string]string{"m.yaml": mailboxText("m", "# a comment\naddresses:\n  - a@x.test\ndefault: repair\n")})
	require.NoError(t, err)
	c, err := withMailboxes(t, map[string]string{"m.yaml": mailboxText("m", "addresses: [b@x.test]\ndefault: repair\n")})
	require.NoError(t, err)
	ma, _ := a.Mailbox("m")
	mb, _ := b.Mailbox("m")
	mc, _ := c.Mailbox("m")
	require.Equal(t, ma.Version, mb.Version)
	require.NotEqual(t, ma.Version, mc.Version)
}
