package storage

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Versions counts the committed changes to instances and their sandboxes,
// for caches in front of the database: a cache takes a Version before it
// reads, keeps it with what it read, and may use the entry while Version
// still gives the same. Writers call Changed after their transaction has
// committed, so that a read made before the commit can never be kept
// under the version that follows it.
//
// Instances share counters by a hash of their id (a fixed number of them,
// whatever the number of instances): a change to one may also expire
// another's entries, never the other way round.
type Versions struct {
	seed  maphash.Seed
	all   atomic.Uint64
	slots [versionSlots]atomic.Uint64
}

const versionSlots = 4096

// Version is a point in an instance's changes.
type Version struct{ all, one uint64 }

func newVersions() *Versions { return &Versions{seed: maphash.MakeSeed()} }

func (v *Versions) slot(instanceID string) *atomic.Uint64 {
	return &v.slots[maphash.String(v.seed, instanceID)%versionSlots]
}

// Version is the instance's current version.
func (v *Versions) Version(instanceID string) Version {
	return Version{v.all.Load(), v.slot(instanceID).Load()}
}

// Changed marks an instance (its row, or one of its sandboxes) as
// changed; with no id, every instance is.
func (v *Versions) Changed(instanceID string) {
	if instanceID == "" {
		v.all.Add(1)
		return
	}
	v.slot(instanceID).Add(1)
}

// Versions is the database's change counter (see Versions).
func (d *DB) Versions() *Versions { return d.versions }

// Cache keeps values read from the database, each under the version of
// the instance it belongs to, and gives back only those whose instance
// has not changed since. It holds up to a bound past which it starts over.
type Cache[V any] struct {
	versions *Versions
	mu       sync.Mutex
	m        map[string]cached[V]
}

type cached[V any] struct {
	instanceID string
	version    Version
	v          V
}

// maxCached bounds a Cache.
const maxCached = 10000

// NewCache returns an empty cache of values about the database's
// instances; without a database it keeps nothing.
func NewCache[V any](d *DB) *Cache[V] {
	if d == nil {
		return &Cache[V]{}
	}
	return &Cache[V]{versions: d.versions}
}

// Version is what to take, before reading, for a later Put.
func (c *Cache[V]) Version(instanceID string) Version {
	if c.versions == nil {
		return Version{}
	}
	return c.versions.Version(instanceID)
}

// Get returns the value under key if its instance is unchanged since.
func (c *Cache[V]) Get(key string) (V, bool) {
	if c.versions == nil {
		var zero V
		return zero, false
	}
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || c.versions.Version(e.instanceID) != e.version {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put keeps v under key, as read at version at of its instance.
func (c *Cache[V]) Put(key, instanceID string, at Version, v V) {
	if c.versions == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]cached[V])
	}
	c.m[key] = cached[V]{instanceID: instanceID, version: at, v: v}
}
