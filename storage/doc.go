// Package storage opens roost's SQL database and applies the migrations
// embedded in the binary. SQL stays portable to PostgreSQL: TEXT ids, BIGINT
// Unix-millisecond times, `?` placeholders rebound by sqlx, no SQLite-only
// syntax in migrations.
package storage
