package validate

import (
	"math"
	"testing"
	"time"
)

func TestTokenTTL(t *testing.T) {
	const msg = "The expiresIn must be between 1 and 604800 seconds (7 days)."
	n := func(v int) *int { return &v }
	tests := []struct {
		name   string
		in     *int
		want   time.Duration
		reason string
	}{
		{"absent", nil, 24 * time.Hour, ""},
		{"one second", n(1), time.Second, ""},
		{"an hour", n(3600), time.Hour, ""},
		{"seven days", n(604800), 7 * 24 * time.Hour, ""},
		{"zero", n(0), 0, "range"},
		{"negative", n(-5), 0, "range"},
		{"a second over seven days", n(604801), 0, "range"},
		{"would overflow a Duration", n(math.MaxInt), 0, "range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TokenTTL(tt.in)
			wantField(t, err, "expiresIn", tt.reason, msg)
			if got != tt.want {
				t.Errorf("TokenTTL = %v, want %v", got, tt.want)
			}
		})
	}
}
