package nodeapi

// Sandbox endpoints a node serves to the platform through the tunnel;
// {id} is the sandbox id.
const (
	SandboxesPath       = "/v1/sandboxes"
	SandboxPath         = "/v1/sandboxes/{id}"
	SandboxPausePath    = "/v1/sandboxes/{id}/pause"
	SandboxResumePath   = "/v1/sandboxes/{id}/resume"
	SandboxRestartPath  = "/v1/sandboxes/{id}/restart-agent"
	SandboxLogsPath     = "/v1/sandboxes/{id}/logs"
	SandboxExecPath     = "/v1/sandboxes/{id}/exec"
	SandboxExecCancel   = "/v1/sandboxes/{id}/execs/{exec}/cancel"
	SandboxExecOutput   = "/v1/sandboxes/{id}/execs/{exec}/output"
	SandboxDialPath     = "/v1/sandboxes/{id}/dial"
	SandboxFilesPath    = "/v1/sandboxes/{id}/files"
	BundlePath          = "/v1/bundles/{revision}"
	SandboxEventsPath   = "/v1/events"
	IsolationBubblewrap = "bubblewrap"
	IsolationNone       = "none"
)

// SandboxSpec is everything a node needs to run a sandbox.
type SandboxSpec struct {
	SandboxID  string `json:"sandboxId"`
	InstanceID string `json:"instanceId"`
	Token      string `json:"token"`
	// Bundle is empty for a sandbox without an agent.
	BundleRevisionID string            `json:"bundleRevisionId,omitempty"`
	BundleSHA256     string            `json:"bundleSha256,omitempty"`
	Entrypoint       []string          `json:"entrypoint,omitempty"`
	Env              map[string]string `json:"env,omitempty"`
	Health           string            `json:"health,omitempty"`
	AgentPort        int               `json:"agentPort,omitempty"`
	Isolation        string            `json:"isolation"`
	Network          string            `json:"network"`
	MemoryMB         int               `json:"memoryMb"`
	CPUs             float64           `json:"cpus"`
	Pids             int               `json:"pids"`
	// GitInit tells the platform to make /workspace a git repository once
	// the sandbox runs (the node ignores it).
	GitInit bool `json:"gitInit,omitempty"`
	// Paused asks the node to keep the sandbox frozen (after a restart).
	Paused bool `json:"paused,omitempty"`
}

// Limits tells which of a sandbox's limits the node enforces.
type Limits struct {
	Memory bool   `json:"memory"`
	CPU    bool   `json:"cpu"`
	Pids   bool   `json:"pids"`
	Freeze string `json:"freeze"` // cgroup-v1, cgroup-v2 or signals
}

// SandboxInfo is a sandbox as its node sees it.
type SandboxInfo struct {
	SandboxID  string `json:"sandboxId"`
	InstanceID string `json:"instanceId"`
	State      string `json:"state"` // running, paused, stopped
	Isolation  string `json:"isolation"`
	Limits     Limits `json:"limits"`
	Agent      string `json:"agent"`
	Healthy    bool   `json:"healthy"`
}

// SandboxEvent is what a node reports about a sandbox.
type SandboxEvent struct {
	SandboxID string `json:"sandboxId"`
	Type      string `json:"type"` // agent_started, agent_exited, agent_healthy, sandbox_stopped, ...
	Code      *int   `json:"code,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Time      int64  `json:"time"`
}

// ExecRequest runs a command in a sandbox.
type ExecRequest struct {
	ExecID    string            `json:"execId"`
	Command   string            `json:"command"`
	TimeoutMs int64             `json:"timeoutMs"`
	Env       map[string]string `json:"env,omitempty"`
}

// ExecResult is a finished command.
type ExecResult struct {
	ExecID          string `json:"execId"`
	ExitCode        int    `json:"exitCode"`
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	StdoutTruncated bool   `json:"stdoutTruncated"`
	StderrTruncated bool   `json:"stderrTruncated"`
	StdoutSize      int64  `json:"stdoutSize"`
	StderrSize      int64  `json:"stderrSize"`
	DurationMs      int64  `json:"durationMs"`
	TimedOut        bool   `json:"timedOut"`
	Cancelled       bool   `json:"cancelled"`
}

// LogsResult is the tail of an agent's log.
type LogsResult struct {
	Logs      string `json:"logs"`
	Truncated bool   `json:"truncated"`
}
