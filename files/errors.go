package files

import (
	"strconv"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Errors of the files domain.
var (
	ErrNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No file with this id exists in your organization. Upload it with POST /api/v1/files/upload and use the fileId it returns."}
	ErrInUse = &rpc.Error{Type: methods.Conflict,
		Message: "The file is used by a resource revision or a bundle revision and cannot be deleted. Delete the resource first; bundle archives stay for the instances pinned to them."}
	ErrEmptyUpload = &rpc.Error{Type: methods.InvalidInput,
		Message: "The upload has no part named \"file\". Send multipart/form-data with the file in a field named \"file\"."}
)

// TooLarge is the error of an upload over the size limit.
func TooLarge(limit int64) *rpc.Error {
	return rpc.Errorf(methods.PayloadTooLarge, "The file is larger than the upload limit of %s.", HumanBytes(limit))
}

// HumanBytes renders a size for a sentence.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	whole := n / div
	frac := (n % div) * 10 / div
	s := strconv.FormatInt(whole, 10)
	if frac != 0 {
		s += "." + strconv.FormatInt(frac, 10)
	}
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[exp]
}
