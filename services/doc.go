// Package services owns service URLs: the unguessable codes that name one
// port a session's sandbox serves (a bundle's declared service, or any
// port as port:N), the URLs built from them, and the lookup behind the /s/
// service proxy and the service domain. It exists apart from sessions
// because a code outlives the sandbox it was handed out for: it is kept in
// its own table and resolved on every proxied request to whichever sandbox
// serves the instance now.
package services
