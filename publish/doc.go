// Package publish publishes a session's work to git: it commits the
// sandbox's workspace on branch session/{sessionId}, copies that branch
// out of the sandbox into the instance's bare repository on the platform
// (served read-only at /git/{instanceId}.git), and for vcsType github
// pushes it on to the configured remote. It exists apart from sessions
// because it is git and filesystem work on the platform's side that a
// session's lifecycle does not need; it asks sessions only for the commit a
// session last published and to record the new one.
package publish
