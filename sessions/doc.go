// Package sessions owns agent sessions: a conversation a browser app opens
// with an instance's agent, on one of its bundle's presets. It starts them
// on the agent (POST /sessions of the agent protocol), places their inputs
// in the workspace, hands out the session-scoped wsToken, and opens the
// agent's side of the session websocket. Service URLs live in package
// services, publishing a session's work to git in package publish.
package sessions
