package validate

import (
	"time"

	"github.com/roosthq/roost/rpc"
)

// Token lifetimes: what an instance token or a session token (wsToken)
// gets without expiresIn, and the most it may ask for.
const (
	DefaultTokenTTL = 24 * time.Hour
	MaxTokenTTL     = 7 * 24 * time.Hour
)

// TokenTTL is the lifetime an expiresIn asks for, in seconds from 1 to
// MaxTokenTTL; nil means DefaultTokenTTL.
func TokenTTL(expiresIn *int) (time.Duration, error) {
	if expiresIn == nil {
		return DefaultTokenTTL, nil
	}
	// Compared in seconds: a huge value must not overflow a Duration.
	if *expiresIn < 1 || *expiresIn > int(MaxTokenTTL/time.Second) {
		return 0, rpc.InvalidField("expiresIn", "range", "The expiresIn must be between 1 and %d seconds (7 days).", int(MaxTokenTTL/time.Second))
	}
	return time.Duration(*expiresIn) * time.Second, nil
}
