// Package lifecycle holds the state machines of roost's stateful nouns
// (instances, sandboxes, agent sessions, commands) as data: a typed table of
// allowed moves, the set of states that count as live, and one Move that
// changes a row's state and records the event with its reason in the
// caller's transaction. Each domain package declares its table once; SQL
// state lists are derived from it, so "live" is defined in one place.
package lifecycle
