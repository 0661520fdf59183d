// Package nodeapi holds what a node and the platform share: the enrollment
// exchange, the paths and bodies of the HTTP APIs each serves to the other
// through the tunnel, and the heartbeat metrics. It imports nothing of roost,
// so the node never depends on the control plane.
package nodeapi

import "time"

// Platform endpoints a node calls over plain HTTP(S).
const (
	EnrollPath  = "/api/v1/nodes/enroll"
	ConnectPath = "/api/v1/nodes/connect"
)

// Endpoints the platform serves to nodes through the tunnel.
const (
	HelloPath     = "/v1/hello"
	HeartbeatPath = "/v1/heartbeat"
)

// Endpoints a node serves to the platform through the tunnel.
const (
	InfoPath = "/v1/info"
	EchoPath = "/v1/echo"
)

// TunnelHost is the Host of requests sent through a tunnel.
const TunnelHost = "tunnel.roost"

// EnrollRequest is the body of POST /api/v1/nodes/enroll.
type EnrollRequest struct {
	// Token is the one-time enrollment token.
	Token string `json:"token"`
	// NodeID, with a new token, re-enrolls an existing node: its credential
	// is rotated.
	NodeID   string   `json:"nodeId,omitempty"`
	Name     string   `json:"name"`
	Hostname string   `json:"hostname"`
	Labels   []string `json:"labels"`
	Version  string   `json:"version"`
}

// EnrollResponse answers a successful enrollment.
type EnrollResponse struct {
	NodeID     string `json:"nodeId"`
	Credential string `json:"credential"`
}

// ErrorResponse answers a failed call: an enrollment or connection refused
// by the platform, or a node or supervisor call refused (with its Code).
type ErrorResponse struct {
	Error string    `json:"error"`
	Code  ErrorCode `json:"code,omitempty"`
}

// Metrics is what a heartbeat carries.
type Metrics struct {
	CPUUsage         float64    `json:"cpuUsage"`
	MemoryUsedMB     int64      `json:"memoryUsedMb"`
	MemoryTotalMB    int64      `json:"memoryTotalMb"`
	LoadAverage      [3]float64 `json:"loadAverage"`
	RunningSandboxes int        `json:"runningSandboxes"`
	DiskFreeMB       int64      `json:"diskFreeMb"`
	Version          string     `json:"version"`
	// WarmPools are the node's warm pools; Starts sums up its recent
	// sandbox starts.
	WarmPools []PoolStatus `json:"warmPools,omitempty"`
	Starts    *StartStats  `json:"starts,omitempty"`
	// Disks are the workspaces with a disk limit and what they hold.
	Disks []SandboxDisk `json:"disks,omitempty"`
}

// SandboxDisk is a limited workspace's use, in MiB.
type SandboxDisk struct {
	SandboxID string `json:"sandboxId"`
	UsedMB    int64  `json:"usedMb"`
	LimitMB   int64  `json:"limitMb"`
}

// Hello is the first message of a connection: who the node is and what it
// runs, so the platform can reconcile.
type Hello struct {
	Name      string    `json:"name"`
	Hostname  string    `json:"hostname"`
	Labels    []string  `json:"labels"`
	Version   string    `json:"version"`
	Sandboxes []string  `json:"sandboxes"`
	Metrics   Metrics   `json:"metrics"`
	StartedAt time.Time `json:"startedAt"`
	// HeartbeatMs is the node's heartbeat interval; the platform marks the
	// node offline after three missed.
	HeartbeatMs int64 `json:"heartbeatMs"`
}

// Info is what a node answers at InfoPath.
type Info struct {
	NodeID   string   `json:"nodeId"`
	Name     string   `json:"name"`
	Hostname string   `json:"hostname"`
	Labels   []string `json:"labels"`
	Version  string   `json:"version"`
	Metrics  Metrics  `json:"metrics"`
}
