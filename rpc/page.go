package rpc

// Paging of list methods.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Page validates a list method's limit and offset and fills their defaults.
func Page(limit, offset *int) (int, int, error) {
	l, o := DefaultPageSize, 0
	if limit != nil {
		if *limit < 1 || *limit > MaxPageSize {
			return 0, 0, InvalidField("limit", "range", "The limit must be between 1 and %d.", MaxPageSize)
		}
		l = *limit
	}
	if offset != nil {
		if *offset < 0 {
			return 0, 0, InvalidField("offset", "range", "The offset must not be negative.")
		}
		o = *offset
	}
	return l, o, nil
}
