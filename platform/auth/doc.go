// Package auth holds the credentials of the platform: organizations and
// their API keys (shown once, stored as SHA-256 hashes), and instance tokens
// (JWTs signed with a key kept in the data dir). It answers who a credential
// belongs to; the HTTP side of authentication lives in package platform.
package auth
