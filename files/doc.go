// Package files owns uploaded files: the bytes in the blob store, the
// metadata (name, type, size, SHA-256) in SQL. An upload is streamed into the
// store while its hash and size are computed; its row stays "pending" until
// the object is whole, so a failed, aborted or crashed upload leaves nothing
// visible, and Sweep removes what a crash left.
package files
