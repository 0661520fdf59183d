package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// KeyPrefix starts every API key, so that a key is recognisable in a config
// file and told apart from an instance token.
const KeyPrefix = "rk_"

const keySecretLen = 43 // base64url of 32 bytes, unpadded

// Errors of API-key authentication.
var (
	ErrNoCredential = &rpc.Error{Type: methods.Unauthorized,
		Message: "This endpoint needs an API key: send it as Authorization: Bearer <key>."}
	ErrMalformedKey = &rpc.Error{Type: methods.Unauthorized,
		Message: "The Authorization header does not hold a roost API key (rk_...). Send Authorization: Bearer <key>."}
	ErrUnknownKey = &rpc.Error{Type: methods.Unauthorized,
		Message: "This API key is not known. Check that it was copied whole, or create a new one with `roost keys create`."}
	ErrRevokedKey = &rpc.Error{Type: methods.Unauthorized,
		Message: "This API key was revoked. Create a new one with `roost keys create`."}
	ErrKeyNotFound = &rpc.Error{Type: methods.NotFound,
		Message: "No API key with this id exists."}
)

// Key is an API key's record; the secret itself is never stored.
type Key struct {
	ID      string `db:"id"`
	OrgID   string `db:"org_id"`
	OrgName string `db:"org_name"`
	Name    string `db:"name"`
	Prefix  string `db:"prefix"`
	Admin   bool   `db:"admin"`
	// Operator keys are admin keys that also run the shared fleet
	// (nodes.* on every node); only they may.
	Operator  bool          `db:"operator"`
	CreatedAt int64         `db:"created_at"`
	RevokedAt sql.NullInt64 `db:"revoked_at"`
}

// Org is an organization.
type Org struct {
	ID        string `db:"id"`
	Name      string `db:"name"`
	CreatedAt int64  `db:"created_at"`
}

// Keys stores organizations and API keys, and authenticates keys. Lookups
// are cached for CacheTTL, so that a busy client costs no query per call; a
// revocation through this Keys takes effect at once, one made by another
// process on the same database within CacheTTL.
type Keys struct {
	db  *storage.DB
	ttl time.Duration

	mu    sync.Mutex
	cache map[[32]byte]cachedKey // by the key's SHA-256
}

type cachedKey struct {
	key     Key
	err     error
	expires time.Time
}

// CacheTTL is how long an authenticated key is trusted without a query.
const CacheTTL = time.Second

// NewKeys returns a Keys on db.
func NewKeys(db *storage.DB) *Keys {
	return &Keys{db: db, ttl: CacheTTL, cache: map[[32]byte]cachedKey{}}
}

func hashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// EnsureOrg returns the org with the name, creating it if missing.
func (k *Keys) EnsureOrg(ctx context.Context, name string) (Org, bool, error) {
	var o Org
	created := false
	err := k.db.InTx(ctx, func(tx *sqlx.Tx) error {
		err := tx.GetContext(ctx, &o, `SELECT id, name, created_at FROM orgs WHERE name = ?`, name)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		o = Org{ID: storage.NewID("org"), Name: name, CreatedAt: storage.Now()}
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)`, o.ID, o.Name, o.CreatedAt)
		return err
	})
	if err != nil {
		return o, false, fmt.Errorf("ensure org %q: %w", name, err)
	}
	return o, created, nil
}

// Create makes a new key in the org and returns its record and the secret,
// which exists nowhere else afterwards.
func (k *Keys) Create(ctx context.Context, orgID, name string, admin bool) (Key, string, error) {
	return k.create(ctx, orgID, name, admin, false)
}

// CreateOperator makes a new operator key (an admin key of the org that
// also runs the shared fleet) and returns its record and the secret.
func (k *Keys) CreateOperator(ctx context.Context, orgID, name string) (Key, string, error) {
	return k.create(ctx, orgID, name, true, true)
}

func (k *Keys) create(ctx context.Context, orgID, name string, admin, operator bool) (Key, string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Key{}, "", err
	}
	secret := KeyPrefix + base64url(raw[:])
	key := Key{ID: storage.NewID("key"), OrgID: orgID, Name: name, Prefix: secret[:len(KeyPrefix)+6], Admin: admin, Operator: operator, CreatedAt: storage.Now()}
	_, err := k.db.ExecContext(ctx, `INSERT INTO api_keys (id, org_id, name, prefix, hash, admin, operator, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		key.ID, key.OrgID, key.Name, key.Prefix, hashKey(secret), key.Admin, key.Operator, key.CreatedAt)
	if err != nil {
		return Key{}, "", fmt.Errorf("create key: %w", err)
	}
	return key, secret, nil
}

// List returns every key, of every org, oldest first.
func (k *Keys) List(ctx context.Context) ([]Key, error) {
	keys := []Key{}
	err := k.db.SelectContext(ctx, &keys, `SELECT k.id, k.org_id, o.name AS org_name, k.name, k.prefix, k.admin, k.operator, k.created_at, k.revoked_at
		FROM api_keys k JOIN orgs o ON o.id = k.org_id ORDER BY k.created_at, k.id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// Revoke marks a key revoked; revoking it again is a no-op.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	res, err := k.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, storage.Now(), id)
	if err != nil {
		return fmt.Errorf("revoke key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrKeyNotFound
	}
	k.mu.Lock()
	for h, c := range k.cache {
		if c.key.ID == id {
			delete(k.cache, h)
		}
	}
	k.mu.Unlock()
	return nil
}

// LooksLikeKey tells an API key from other bearer credentials by its form.
func LooksLikeKey(s string) bool { return strings.HasPrefix(s, KeyPrefix) }

// Authenticate returns the key record of a secret, or an unauthorized error.
func (k *Keys) Authenticate(ctx context.Context, secret string) (Key, error) {
	if !LooksLikeKey(secret) || len(secret) != len(KeyPrefix)+keySecretLen {
		return Key{}, ErrMalformedKey
	}
	sum := sha256.Sum256([]byte(secret))
	now := time.Now()
	k.mu.Lock()
	c, ok := k.cache[sum]
	k.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.key, c.err
	}
	var key Key
	err := k.db.GetContext(ctx, &key, `SELECT k.id, k.org_id, o.name AS org_name, k.name, k.prefix, k.admin, k.operator, k.created_at, k.revoked_at
		FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.hash = ?`, hex.EncodeToString(sum[:]))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		err = ErrUnknownKey
	case err != nil:
		return Key{}, fmt.Errorf("authenticate key: %w", err)
	case key.RevokedAt.Valid:
		err = ErrRevokedKey
	}
	k.mu.Lock()
	if len(k.cache) > 100_000 {
		k.cache = map[[32]byte]cachedKey{}
	}
	k.cache[sum] = cachedKey{key: key, err: err, expires: now.Add(k.ttl)}
	k.mu.Unlock()
	return key, err
}
