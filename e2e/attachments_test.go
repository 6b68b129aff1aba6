package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

// upload posts a file as multipart/form-data, with more form fields as name, value pairs.
func upload(t *testing.T, a api, path, name, contentType string, data []byte, fields ...string) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		require.NoError(t, w.WriteField(fields[i], fields[i+1]))
	}
	part, err := w.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="file"; filename="` + name + `"`},
		"Content-Type":        {contentType},
	})
	require.NoError(t, err)
	_, _ = part.Write(data)
	require.NoError(t, w.Close())
	req, err := http.NewRequest("POST", a.base+path, &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestAttachments(t *testing.T) {
	stack := startStack(t)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Scan of the invoice", "contact": map[string]any{"email": "ada@example.com"},
	})
	path := "/v1/service-requests/" + sr["id"].(string) + "/attachments"
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	status, rec := upload(t, alice, path, "invoice.png", "image/png", png)
	require.Equal(t, http.StatusCreated, status, rec)
	att := rec["attachments"].([]any)[0].(map[string]any)
	require.Equal(t, "invoice.png", att["name"])
	require.Equal(t, "image/png", att["contentType"])
	require.EqualValues(t, len(png), att["size"])

	req, _ := http.NewRequest("GET", stack.APIURL+path+"/"+att["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+alice.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, png, got)
	require.Contains(t, resp.Header.Get("Content-Disposition"), "invoice.png")

	status, _ = upload(t, alice, path, "tool.exe", "application/x-msdownload", []byte("MZ\x90\x00binary"))
	require.Equal(t, http.StatusUnsupportedMediaType, status)
	status, _ = upload(t, alice, path, "big.pdf", "application/pdf", append([]byte("%PDF-1.4\n"), make([]byte, 11<<20)...))
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
	require.Len(t, alice.must(http.StatusOK, "GET", "/v1/service-requests/"+sr["id"].(string), nil)["attachments"], 1)
}
