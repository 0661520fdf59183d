package platform

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/roosthq/roost/files"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage/blob"
)

// uploadReadSize is the buffer between the request body and the multipart
// reader. The multipart reader reads 4 KiB at a time, and without this each
// of those reads was a read system call on the connection (through the
// chunked decoder); with it, a system call takes what the socket holds.
// That took the server's CPU for a 1 GiB upload from 1.8 s to 1.5 s
// (BENCHMARKS.md, Uploads).
const uploadReadSize = 256 << 10

// multipartSlack is what the multipart framing may add to the file's size
// before Content-Length alone proves the upload too large.
const multipartSlack = 64 << 10

var (
	errNotMultipart = rpc.Errorf(methods.InvalidInput,
		"The upload must be multipart/form-data with the file in a field named \"file\".")
	errTwoFiles = rpc.Errorf(methods.InvalidInput,
		"The upload has more than one file. Send one file per request, in the field \"file\".")
	errBadMultipart = rpc.Errorf(methods.InvalidInput,
		"The multipart body is malformed or was cut short. Send the whole file again.")
)

// writeUploadError answers the upload endpoint's failures as {error}.
func writeUploadError(c echo.Context, err error) error {
	status, werr := rpc.ToWire(err)
	if status == http.StatusRequestEntityTooLarge {
		c.Response().Header().Set("Connection", "close")
	}
	rpc.WriteJSON(c.Response(), status, methods.UploadError{Error: werr.Message})
	return nil
}

// handleUpload streams the multipart field "file" into the blob store: the
// body is read part by part, never held whole nor spooled to disk.
func (s *Server) handleUpload(c echo.Context) error {
	req := c.Request()
	caller, err := s.authenticateKey(req)
	if err != nil {
		return writeUploadError(c, err)
	}
	limit := s.files.MaxUpload()
	if req.ContentLength > limit+multipartSlack {
		return writeUploadError(c, files.TooLarge(limit))
	}
	mt, params, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return writeUploadError(c, errNotMultipart)
	}
	mr := multipart.NewReader(bufio.NewReaderSize(req.Body, uploadReadSize), params["boundary"])
	var stored *files.File
	for {
		part, err := mr.NextPart()
		// A bare io.EOF is the closing boundary; a body that ends without
		// one gives a wrapped EOF ("multipart: NextPart: EOF").
		if err == io.EOF {
			break
		}
		if err != nil {
			return s.abortUpload(c, caller, stored, errBadMultipart.Wrap(err))
		}
		if part.FormName() != "file" {
			// Other fields are read and ignored.
			if _, err := io.Copy(io.Discard, io.LimitReader(part, 1<<20)); err != nil {
				return s.abortUpload(c, caller, stored, errBadMultipart.Wrap(err))
			}
			continue
		}
		if stored != nil {
			return s.abortUpload(c, caller, stored, errTwoFiles)
		}
		name := part.FileName()
		if name == "" {
			// FileName drops directories; an empty name is legal, sanitized later.
			name = rawFilename(part)
		}
		f, err := s.files.Upload(req.Context(), caller.OrgID, name, part.Header.Get("Content-Type"), part)
		if err != nil {
			if !isRPCError(err) {
				err = errBadMultipart.Wrap(err)
			}
			return writeUploadError(c, err)
		}
		stored = &f
	}
	if stored == nil {
		return writeUploadError(c, files.ErrEmptyUpload)
	}
	s.log.InfoContext(req.Context(), "file uploaded", "file", stored.ID, "size", stored.Size, "org", caller.OrgID)
	rpc.WriteJSON(c.Response(), http.StatusOK, methods.UploadFileOutput{OK: true, FileID: stored.ID, Filename: stored.Filename,
		MimeType: stored.MimeType, Size: stored.Size, R2Key: stored.BlobKey})
	return nil
}

func isRPCError(err error) bool {
	var e *rpc.Error
	return errors.As(err, &e)
}

// abortUpload removes a file already stored by this request, then answers err.
func (s *Server) abortUpload(c echo.Context, caller rpc.Caller, stored *files.File, err error) error {
	if stored != nil {
		if derr := s.files.Delete(c.Request().Context(), caller.OrgID, stored.ID); derr != nil {
			s.log.WarnContext(c.Request().Context(), "rejected upload not removed", "file", stored.ID, "err", derr)
		}
	}
	return writeUploadError(c, err)
}

func rawFilename(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}

// handleDownload serves a file of the caller's org, with single ranges.
func (s *Server) handleDownload(c echo.Context) error {
	req := c.Request()
	caller, err := s.authenticateKey(req)
	if err != nil {
		rpc.WriteError(c.Response(), err)
		return nil
	}
	f, err := s.files.Get(req.Context(), caller.OrgID, c.Param("id"))
	if err != nil {
		rpc.WriteError(c.Response(), err)
		return nil
	}
	h := c.Response().Header()
	h.Set("Content-Type", f.MimeType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Filename}))
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", `"`+f.SHA256+`"`)
	h.Set("X-Content-Type-Options", "nosniff")

	rng, ok := parseRange(req.Header.Get("Range"), f.Size)
	if !ok {
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", f.Size))
		return c.JSON(http.StatusRequestedRangeNotSatisfiable, map[string]any{"ok": false, "error": methods.Error{
			Type: methods.InvalidInput, Message: fmt.Sprintf("The range is outside the file, which has %d bytes.", f.Size)}})
	}
	if ir := req.Header.Get("If-Range"); ir != "" && ir != `"`+f.SHA256+`"` {
		rng = nil
	}
	rc, _, err := s.files.Open(req.Context(), caller.OrgID, f.ID, rng)
	if err != nil {
		rpc.WriteError(c.Response(), err)
		return nil
	}
	defer rc.Close()
	status := http.StatusOK
	length := f.Size
	if rng != nil {
		end := rng.End
		if end < 0 || end >= f.Size {
			end = f.Size - 1
		}
		length = end - rng.Start + 1
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.Start, end, f.Size))
		status = http.StatusPartialContent
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	c.Response().WriteHeader(status)
	if req.Method == http.MethodHead {
		return nil
	}
	_, _ = io.Copy(c.Response(), rc)
	return nil
}

// parseRange reads a single "bytes=a-b", "bytes=a-" or "bytes=-n" range.
// No header, or a form it does not serve (several ranges), gives the whole
// file; ok is false only for a range outside the file.
func parseRange(h string, size int64) (*blob.Range, bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return nil, true
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return nil, true
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return nil, true
		}
		if size == 0 {
			return nil, false
		}
		if n > size {
			n = size
		}
		return &blob.Range{Start: size - n, End: size - 1}, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return nil, true
	}
	end := int64(-1)
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return nil, true
		}
	}
	if start >= size {
		return nil, false
	}
	return &blob.Range{Start: start, End: end}, true
}
