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
	PoolPath            = "/v1/pool"
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
	// TmpMB sizes /tmp and /dev/shm (each); 0 leaves them unsized.
	TmpMB int `json:"tmpMb,omitempty"`
	// DiskMB bounds the workspace (a file system of its own); 0: none.
	DiskMB int `json:"diskMb,omitempty"`
	// GitInit tells the platform to make /workspace a git repository once
	// the sandbox runs (the node ignores it).
	GitInit bool `json:"gitInit,omitempty"`
	// ReuseWorkspace names an ended sandbox of the same instance on this
	// node whose workspace this one takes over (after an error).
	ReuseWorkspace string `json:"reuseWorkspace,omitempty"`
	// Paused asks the node to keep the sandbox frozen (after a restart).
	Paused bool `json:"paused,omitempty"`
}

// Limits tells which of a sandbox's limits the node enforces.
type Limits struct {
	Memory bool `json:"memory"`
	CPU    bool `json:"cpu"`
	Pids   bool `json:"pids"`
	// Disk says the workspace has a file system of its own of DiskMB.
	Disk   bool   `json:"disk,omitempty"`
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
	// Warm says the sandbox was a warm pool member, claimed for this
	// start instead of started cold.
	Warm bool `json:"warm,omitempty"`
}

// StartTimings are where a start spent its time on the node, in µs.
type StartTimings struct {
	// QueuedUs waited for a start slot (a node starts MaxStarts at once).
	QueuedUs int64 `json:"queuedUs"`
	// PrepareUs made the directories, spec, cgroups and bundle ready.
	PrepareUs int64 `json:"prepareUs"`
	// SpawnUs ran from starting the sandbox's first process (the start
	// gate) to the supervisor's main: the gate, bubblewrap and the
	// supervisor's runtime start.
	SpawnUs int64 `json:"spawnUs"`
	// SupervisorUs ran from starting the first process to the supervisor
	// answering on its socket (SpawnUs included).
	SupervisorUs int64 `json:"supervisorUs"`
	// ClaimUs is a warm start's whole time on the node (the rest are 0).
	ClaimUs int64 `json:"claimUs,omitempty"`
}

// PoolSpec asks a node to keep Size sandboxes of one shape started and
// idle, so that a sandbox of that shape starts by claiming one.
type PoolSpec struct {
	// Template names it in metrics; pools of templates of the same shape
	// are one pool.
	Template  string  `json:"template"`
	Isolation string  `json:"isolation"`
	Network   string  `json:"network"`
	MemoryMB  int     `json:"memoryMb"`
	CPUs      float64 `json:"cpus"`
	Pids      int     `json:"pids"`
	TmpMB     int     `json:"tmpMb,omitempty"`
	Size      int     `json:"size"`
}

// PoolConfig is the body of PUT PoolPath: every pool the node keeps. A
// pool it had and the config leaves out is retired.
type PoolConfig struct {
	Pools []PoolSpec `json:"pools"`
}

// MaxPoolSize bounds one pool; MaxPoolTotal all of a node's.
const (
	MaxPoolSize  = 64
	MaxPoolTotal = 256
)

// PoolStatus is one warm pool of a node.
type PoolStatus struct {
	Key       string   `json:"key"`
	Templates []string `json:"templates"`
	Size      int      `json:"size"`
	Idle      int      `json:"idle"`
	Starting  int      `json:"starting"`
	Claimed   int64    `json:"claimed"`
	Retired   int64    `json:"retired"`
	// LastError is why the last member did not start, if it did not.
	LastError string `json:"lastError,omitempty"`
}

// StartStats sum up a node's recent starts (the last 256 of each kind).
type StartStats struct {
	Cold int `json:"cold"`
	Warm int `json:"warm"`
	// ColdP50 is the median of each part of the recent cold starts.
	ColdP50 StartTimings `json:"coldP50"`
	// WarmP50Us is the median time on the node of the recent warm starts.
	WarmP50Us int64 `json:"warmP50Us"`
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
	// OutOfMemory says the kernel killed the command because the sandbox
	// reached its memory limit (LimitMB).
	OutOfMemory bool `json:"outOfMemory,omitempty"`
	LimitMB     int  `json:"limitMb,omitempty"`
	// DiskFull says the command ended with the workspace full (DiskMB).
	DiskFull bool `json:"diskFull,omitempty"`
	DiskMB   int  `json:"diskMb,omitempty"`
}

// LogsResult is the tail of an agent's log.
type LogsResult struct {
	Logs      string `json:"logs"`
	Truncated bool   `json:"truncated"`
}
