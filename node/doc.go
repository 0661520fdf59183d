// Package node is roost's worker. It enrolls with the platform using a
// one-time token, keeps its credential in its data dir, dials the platform
// over a websocket carrying a tunnel (package tunnel) and keeps that
// connection up forever with capped, jittered backoff. Through the tunnel it
// serves its own HTTP API to the platform and sends heartbeats with its
// metrics. It never imports the control plane: what it shares with the
// platform lives in package nodeapi.
package node
