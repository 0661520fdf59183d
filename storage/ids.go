package storage

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"sync"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

var idState struct {
	sync.Mutex
	ms   uint64
	last [10]byte
}

// NewID returns prefix_ followed by 26 characters: a millisecond timestamp
// then 80 random bits, so ids sort by creation time and cannot be guessed.
// Within one millisecond, each id is the previous one plus one, so ids made
// by this process sort in the order they were made.
func NewID(prefix string) string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	idState.Lock()
	if ms <= idState.ms {
		ms = idState.ms
		incr(idState.last[:])
	} else {
		idState.ms = ms
		if _, err := rand.Read(idState.last[:]); err != nil {
			idState.Unlock()
			panic("crypto/rand failed: " + err.Error())
		}
		idState.last[0] &= 0x7f // room to count up within the millisecond
	}
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	copy(b[6:], idState.last[:])
	idState.Unlock()
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

func incr(b []byte) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return
		}
	}
}

// Now is the current time in Unix milliseconds, the unit of every stored time.
func Now() int64 { return time.Now().UnixMilli() }

// FormatTime renders a stored time as RFC 3339 with milliseconds, in UTC.
func FormatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
