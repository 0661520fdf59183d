package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"

	"github.com/roosthq/roost/methods"
)

// typeOfStatus names the error of a reply that carries only {error}.
func typeOfStatus(status int) methods.ErrorType {
	switch status {
	case http.StatusBadRequest:
		return methods.InvalidInput
	case http.StatusUnauthorized:
		return methods.Unauthorized
	case http.StatusForbidden:
		return methods.Forbidden
	case http.StatusNotFound:
		return methods.NotFound
	case http.StatusConflict:
		return methods.Conflict
	case http.StatusRequestEntityTooLarge:
		return methods.PayloadTooLarge
	case http.StatusTooManyRequests:
		return methods.RateLimited
	case http.StatusServiceUnavailable:
		return methods.Unavailable
	case http.StatusGatewayTimeout:
		return methods.Timeout
	}
	return methods.Internal
}

// UploadFile streams r to POST /api/v1/files/upload as the multipart field
// "file", without holding it in memory. mimeType may be empty.
func (c *Client) UploadFile(ctx context.Context, filename, mimeType string, r io.Reader) (*methods.UploadFileOutput, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		// FormatMediaType encodes a name with control or non-ASCII
		// characters as RFC 2231 filename*=, which the server decodes: a raw
		// control character would make the part header malformed, and CR LF
		// would end it.
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": filename}))
		if mimeType != "" {
			h.Set("Content-Type", mimeType)
		}
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, r)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/api/v1/files/upload", pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.t.auth)
	resp, err := c.t.hc.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e methods.UploadError
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return nil, &Error{Type: typeOfStatus(resp.StatusCode), Message: e.Error, Status: resp.StatusCode}
	}
	var out methods.UploadFileOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode upload reply: %w", err)
	}
	return &out, nil
}

// GetFile calls files.get.
func (c *Client) GetFile(ctx context.Context, id string) (*methods.FileInfo, error) {
	return call[methods.FileInfo](ctx, c.t, methods.FilesGet, methods.GetFileInput{FileID: id})
}

// ListFiles calls files.list.
func (c *Client) ListFiles(ctx context.Context, in methods.ListFilesInput) (*methods.ListFilesOutput, error) {
	return call[methods.ListFilesOutput](ctx, c.t, methods.FilesList, in)
}

// DeleteFile calls files.delete.
func (c *Client) DeleteFile(ctx context.Context, id string) (*methods.OKOutput, error) {
	return call[methods.OKOutput](ctx, c.t, methods.FilesDelete, methods.DeleteFileInput{FileID: id})
}

// DownloadFile opens GET /api/v1/files/:id; rangeHeader may be empty or
// like "bytes=0-99". The caller closes the body.
func (c *Client) DownloadFile(ctx context.Context, id, rangeHeader string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/api/v1/files/"+id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.t.auth)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	return c.t.hc.Do(req)
}

// CreateResource calls resources.create.
func (c *Client) CreateResource(ctx context.Context, in methods.CreateResourceInput) (*methods.CreateResourceOutput, error) {
	return call[methods.CreateResourceOutput](ctx, c.t, methods.ResourcesCreate, in)
}

// AddResourceRevision calls resources.addRevision.
func (c *Client) AddResourceRevision(ctx context.Context, in methods.AddResourceRevisionInput) (*methods.AddResourceRevisionOutput, error) {
	return call[methods.AddResourceRevisionOutput](ctx, c.t, methods.ResourcesAddRevision, in)
}

// GetResource calls resources.get.
func (c *Client) GetResource(ctx context.Context, in methods.GetResourceInput) (*methods.GetResourceOutput, error) {
	return call[methods.GetResourceOutput](ctx, c.t, methods.ResourcesGet, in)
}

// ListResources calls resources.list.
func (c *Client) ListResources(ctx context.Context, in methods.ListResourcesInput) (*methods.ListResourcesOutput, error) {
	return call[methods.ListResourcesOutput](ctx, c.t, methods.ResourcesList, in)
}

// DeleteResource calls resources.delete.
func (c *Client) DeleteResource(ctx context.Context, id string) (*methods.DeleteResourceOutput, error) {
	return call[methods.DeleteResourceOutput](ctx, c.t, methods.ResourcesDelete, methods.DeleteResourceInput{ResourceID: id})
}

// PublishBundle calls bundles.publish.
func (c *Client) PublishBundle(ctx context.Context, in methods.PublishBundleInput) (*methods.PublishBundleOutput, error) {
	return call[methods.PublishBundleOutput](ctx, c.t, methods.BundlesPublish, in)
}

// ListBundles calls bundles.list.
func (c *Client) ListBundles(ctx context.Context, in methods.ListBundlesInput) (*methods.ListBundlesOutput, error) {
	return call[methods.ListBundlesOutput](ctx, c.t, methods.BundlesList, in)
}

// GetBundle calls bundles.get.
func (c *Client) GetBundle(ctx context.Context, in methods.GetBundleInput) (*methods.GetBundleOutput, error) {
	return call[methods.GetBundleOutput](ctx, c.t, methods.BundlesGet, in)
}

// DeleteBundle calls bundles.delete.
func (c *Client) DeleteBundle(ctx context.Context, in methods.DeleteBundleInput) (*methods.DeleteBundleOutput, error) {
	return call[methods.DeleteBundleOutput](ctx, c.t, methods.BundlesDelete, in)
}
