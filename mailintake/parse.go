package mailintake

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// Message is an email as the intake reads it.
type Message struct {
	// ID is the Message-ID header as written ("<…@…>"); when the message has none, "sha256:" and
	// a digest of its sender, recipients, date, subject and body, so a resent copy gets the same ID.
	ID string
	// From is the sender from the From header (the envelope sender when the header is unusable).
	From mail.Address
	// To lists the addresses of the To and Cc headers.
	To      []string
	Subject string
	// Body is the text: the text/plain part, or the text/html part turned into text when there is
	// no plain part.
	Body        string
	Attachments []Attachment
}

// Attachment is one file of a message.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Limits bound what a message may bring.
type Limits struct {
	// AttachmentBytes is the largest file; AttachmentsBytes the largest sum of a message's files.
	AttachmentBytes, AttachmentsBytes int64
	// BodyRunes is where the text is cut (with a note saying so).
	BodyRunes int
	// Parts bounds the number of MIME parts, Depth their nesting.
	Parts, Depth int
}

// DefaultLimits: 10 MB a file, 25 MB a message, the first 64 000 characters of the text.
var DefaultLimits = Limits{AttachmentBytes: 10 << 20, AttachmentsBytes: 25 << 20, BodyRunes: 64000, Parts: 100, Depth: 8}

// TooLargeError says which file (or which sum of files) is over a limit.
type TooLargeError struct {
	Name  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Name == "" {
		return "the attachments together are larger than " + size(e.Limit)
	}
	return fmt.Sprintf("attachment %q is larger than %s", e.Name, size(e.Limit))
}

// size writes a byte count for people.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// MalformedError is a message that cannot be read.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "malformed message: " + e.Reason }

func malformed(format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...)}
}

// wordDecoder decodes RFC 2047 encoded words in any charset x/net knows.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.NewReaderLabel}

// Parse reads a message: its headers (RFC 2047 words decoded), its text and its attachments.
func Parse(raw []byte, limits Limits) (*Message, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, malformed("%v", err)
	}
	m := &Message{ID: strings.TrimSpace(msg.Header.Get("Message-Id"))}
	m.Subject = strings.TrimSpace(textOnly(decodeHeader(msg.Header.Get("Subject"))))
	parser := &mail.AddressParser{WordDecoder: wordDecoder}
	if from, err := parser.ParseList(msg.Header.Get("From")); err == nil && len(from) > 0 {
		m.From = *from[0]
		m.From.Name, m.From.Address = textOnly(m.From.Name), textOnly(strings.ToLower(m.From.Address))
	}
	for _, h := range []string{"To", "Cc"} {
		if v := msg.Header.Get(h); v != "" {
			if list, err := parser.ParseList(v); err == nil {
				for _, a := range list {
					m.To = append(m.To, textOnly(strings.ToLower(a.Address)))
				}
			}
		}
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		return nil, malformed("%v", err)
	}
	w := &walker{limits: limits, msg: m}
	if err := w.part(partHeader(msg.Header), body, 0); err != nil {
		return nil, err
	}
	text := w.plain
	if text == "" && w.html != "" {
		text = htmlText(w.html)
	}
	m.Body = cut(normalizeText(textOnly(text)), limits.BodyRunes)
	if m.ID == "" {
		m.ID = digest(msg.Header, body)
	}
	return m, nil
}

// digest names a message without a Message-ID by what a resend keeps: the relays' trace headers
// (Received, Return-Path) are left out.
func digest(h mail.Header, body []byte) string {
	sum := sha256.New()
	for _, k := range []string{"From", "To", "Cc", "Date", "Subject"} {
		fmt.Fprintf(sum, "%s: %s\n", k, strings.Join(h[k], ", "))
	}
	sum.Write([]byte("\n"))
	sum.Write(body)
	return "sha256:" + hex.EncodeToString(sum.Sum(nil))
}

// header is what the walker needs of a part's header.
type header interface{ Get(string) string }

type partHeader mail.Header

func (h partHeader) Get(k string) string { return mail.Header(h).Get(k) }

// walker visits the MIME parts of a message, keeping the first plain and HTML texts and every file.
type walker struct {
	limits      Limits
	msg         *Message
	plain, html string
	parts       int
	total       int64
}

func (w *walker) part(h header, body []byte, depth int) error {
	w.parts++
	if w.limits.Parts > 0 && w.parts > w.limits.Parts {
		return malformed("more than %d parts", w.limits.Parts)
	}
	if w.limits.Depth > 0 && depth > w.limits.Depth {
		return malformed("parts nested more than %d deep", w.limits.Depth)
	}
	ctype, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ctype, params = "text/plain", map[string]string{}
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := decodeHeader(dparams["filename"])
	if name == "" {
		name = decodeHeader(params["name"])
	}
	if strings.HasPrefix(ctype, "multipart/") && disposition != "attachment" {
		boundary := params["boundary"]
		if boundary == "" {
			return malformed("%s without a boundary", ctype)
		}
		r := multipart.NewReader(bytes.NewReader(decodeTransfer(h.Get("Content-Transfer-Encoding"), body)), boundary)
		for {
			p, err := r.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return malformed("%s: %v", ctype, err)
			}
			data, err := io.ReadAll(p)
			if err != nil {
				return malformed("%s: %v", ctype, err)
			}
			if err := w.part(p.Header, data, depth+1); err != nil {
				return err
			}
		}
	}
	data := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	isText := ctype == "text/plain" || ctype == "text/html"
	if isText && disposition != "attachment" && name == "" {
		text := decodeCharset(params["charset"], data)
		if ctype == "text/plain" && w.plain == "" {
			w.plain = text
		} else if ctype == "text/html" && w.html == "" {
			w.html = text
		}
		return nil
	}
	if name == "" {
		name = fmt.Sprintf("attachment-%d%s", len(w.msg.Attachments)+1, extension(ctype))
	}
	name = path.Base(strings.ReplaceAll(textOnly(name), `\`, "/")) // never a path, whatever the sender wrote
	if name == "/" || name == "." || name == ".." {
		name = fmt.Sprintf("attachment-%d%s", len(w.msg.Attachments)+1, extension(ctype))
	}
	if w.limits.AttachmentBytes > 0 && int64(len(data)) > w.limits.AttachmentBytes {
		return &TooLargeError{Name: name, Limit: w.limits.AttachmentBytes}
	}
	w.total += int64(len(data))
	if w.limits.AttachmentsBytes > 0 && w.total > w.limits.AttachmentsBytes {
		return &TooLargeError{Limit: w.limits.AttachmentsBytes}
	}
	w.msg.Attachments = append(w.msg.Attachments, Attachment{Name: name, ContentType: ctype, Data: data})
	return nil
}

func extension(ctype string) string {
	switch ctype {
	case "message/rfc822":
		return ".eml"
	case "text/plain":
		return ".txt"
	case "text/html":
		return ".html"
	}
	if exts, _ := mime.ExtensionsByType(ctype); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// decodeTransfer undoes a Content-Transfer-Encoding; what does not decode is kept as it came.
func decodeTransfer(encoding string, data []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, data)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			// Some senders drop the padding.
			if n2, err2 := base64.RawStdEncoding.Decode(out, bytes.TrimRight(clean, "=")); err2 == nil {
				return out[:n2]
			}
			return data
		}
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(data)))
		if err != nil {
			return data
		}
		return out
	}
	return data
}

// decodeCharset turns text in a charset into UTF-8.
func decodeCharset(label string, data []byte) string {
	label = strings.TrimSpace(label)
	if label == "" || strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "us-ascii") {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	r, err := charset.NewReaderLabel(label, bytes.NewReader(data))
	if err != nil {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	return string(out)
}

// decodeHeader decodes RFC 2047 encoded words, keeping the text as written when it cannot.
func decodeHeader(s string) string {
	out, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}

// htmlText is the readable text of an HTML body: no tags, scripts or styles; block elements and
// <br> end lines.
func htmlText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			lines := strings.Split(b.String(), "\n")
			for i, l := range lines {
				lines[i] = strings.TrimSpace(l)
			}
			return strings.Join(lines, "\n")
		case html.TextToken:
			t := z.Text()
			if skip > 0 || len(t) == 0 {
				continue
			}
			if isSpace(t[0]) {
				b.WriteByte(' ')
			}
			b.WriteString(strings.Join(strings.Fields(string(t)), " "))
			if isSpace(t[len(t)-1]) {
				b.WriteByte(' ')
			}
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			name, _ := z.TagName()
			switch tag := string(name); {
			case tag == "script" || tag == "style" || tag == "head" || tag == "title":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case blockTags[tag]:
				b.WriteByte('\n')
			}
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

var blockTags = map[string]bool{
	"br": true, "p": true, "div": true, "li": true, "tr": true, "h1": true, "h2": true, "h3": true,
	"h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true, "table": true, "ul": true, "ol": true, "hr": true,
}

// normalizeText trims each line, drops trailing spaces and collapses runs of blank lines.
func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	var out []string
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if strings.TrimSpace(l) == "" {
			blank++
			continue
		}
		if blank > 0 && len(out) > 0 {
			out = append(out, "")
		}
		blank = 0
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// textOnly makes s text PostgreSQL stores: invalid UTF-8 becomes U+FFFD and NUL bytes are dropped
// (a text or jsonb value cannot hold them, so a message with one could never be saved).
func textOnly(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// cut keeps the first n runes of s, saying when it cut.
func cut(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "\n[… the rest of the message is not shown]"
}
