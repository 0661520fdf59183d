// Package validate holds the input checks that several packages share, so
// that one field is held to one rule, with one error, wherever it is taken:
// slugs and free text in bundles and resources (bundles used to import
// resources only to borrow them), and the expiresIn of instance tokens and
// session tokens in platform and sessions. Each check answers the same
// rpc.InvalidField error a caller has always seen.
package validate

import (
	"regexp"
	"unicode/utf8"

	"github.com/roosthq/roost/rpc"
)

// SlugPattern is the form of resource and bundle slugs.
var SlugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Limits of free-text fields, in characters.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 2000
)

// Slug checks a slug field.
func Slug(field, slug string) error {
	if !SlugPattern.MatchString(slug) {
		return rpc.InvalidField(field, "format",
			"The %s %q must be 1 to 63 lowercase letters, digits or dashes, starting with a letter or digit.", field, slug)
	}
	return nil
}

// Text checks an optional free-text field: valid UTF-8 of at most max
// characters.
func Text(field, v string, max int) error {
	if utf8.RuneCountInString(v) > max || !utf8.ValidString(v) {
		return rpc.InvalidField(field, "range", "The %s must be valid UTF-8 of at most %d characters.", field, max)
	}
	return nil
}
