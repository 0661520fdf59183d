package methods

// Roost additions: files uploaded with POST /api/v1/files/upload.
const (
	FilesGet    = "files.get"
	FilesList   = "files.list"
	FilesDelete = "files.delete"
)

// UploadFileOutput is the reply of POST /api/v1/files/upload (not wrapped
// in an RPC envelope).
type UploadFileOutput struct {
	OK       bool   `json:"ok"`
	FileID   string `json:"fileId"`
	Filename string `json:"filename"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
	R2Key    string `json:"r2Key"`
}

// UploadError is the failure reply of the upload endpoint.
type UploadError struct {
	Error string `json:"error"`
}

// FileInfo describes an uploaded file.
type FileInfo struct {
	ID        string `json:"id"`
	Filename  string `json:"filename"`
	MimeType  string `json:"mimeType"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	R2Key     string `json:"r2Key"`
	CreatedAt string `json:"createdAt"`
}

// GetFileInput is the input of files.get.
type GetFileInput struct {
	FileID string `json:"fileId" required:"true"`
}

// ListFilesInput is the input of files.list.
type ListFilesInput struct {
	Limit  *int `json:"limit,omitempty"`
	Offset *int `json:"offset,omitempty"`
}

// ListFilesOutput is the output of files.list, newest first.
type ListFilesOutput struct {
	Files []FileInfo `json:"files"`
	Total int        `json:"total"`
}

// DeleteFileInput is the input of files.delete.
type DeleteFileInput struct {
	FileID string `json:"fileId" required:"true"`
}
