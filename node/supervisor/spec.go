package supervisor

import "github.com/roosthq/roost/node/nodeapi"

// Spec is what the node tells the supervisor at start, as a JSON file.
type Spec struct {
	SandboxID  string            `json:"sandboxId"`
	InstanceID string            `json:"instanceId"`
	Token      string            `json:"token"`
	Entrypoint []string          `json:"entrypoint"` // empty: no agent
	Env        map[string]string `json:"env"`
	AgentDir   string            `json:"agentDir"`  // where the bundle is, cwd of the agent
	Workspace  string            `json:"workspace"` // cwd of execs
	RunDir     string            `json:"runDir"`    // socket, logs, exec output
	Health     string            `json:"health,omitempty"`
	AgentPort  int               `json:"agentPort"`
	// MaxLogBytes caps the agent log before it rotates. Default 4 MiB.
	MaxLogBytes int64 `json:"maxLogBytes"`
	// Pool marks a warm pool member: it starts no agent and waits for a
	// Claim, which gives it its sandbox's identity.
	Pool bool `json:"pool,omitempty"`
}

// Claim is what makes a warm pool member a sandbox: the parts of Spec
// that belong to one sandbox and its instance.
type Claim struct {
	SandboxID  string            `json:"sandboxId"`
	InstanceID string            `json:"instanceId"`
	Token      string            `json:"token"`
	Entrypoint []string          `json:"entrypoint"`
	Env        map[string]string `json:"env"`
	AgentDir   string            `json:"agentDir,omitempty"`
	Health     string            `json:"health,omitempty"`
	AgentPort  int               `json:"agentPort"`
}

// Paths under RunDir.
const (
	SocketName = "sup.sock"
	LogName    = "agent.log"
	ExecsDir   = "execs"
)

// Event is something that happened to the agent, reported to the node.
type Event struct {
	Seq    int64  `json:"seq"`
	Time   int64  `json:"time"` // Unix ms
	Type   string `json:"type"`
	Code   *int   `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Event types.
const (
	EventAgentStarted   = "agent_started"
	EventAgentExited    = "agent_exited"
	EventAgentHealthy   = "agent_healthy"
	EventAgentUnhealthy = "agent_unhealthy"
	EventAgentStopped   = "agent_stopped"
)

// ExecRequest and ExecResult are the node API's: the node passes them
// through unchanged.
type (
	ExecRequest = nodeapi.ExecRequest
	ExecResult  = nodeapi.ExecResult
)

// MaxReplyOutput is the most of each stream an exec reply carries; the
// rest stays in the output files.
const MaxReplyOutput = 128 << 10

// Status is the supervisor's view of the agent.
type Status struct {
	Agent     string `json:"agent"` // none, starting, running, backoff, stopped
	PID       int    `json:"pid,omitempty"`
	Restarts  int    `json:"restarts"`
	LastExit  *int   `json:"lastExit,omitempty"`
	Healthy   bool   `json:"healthy"`
	StartedAt int64  `json:"startedAt"`
	Execs     int    `json:"execs"`
	// MainAtUs is when the supervisor's main began (Unix µs): what the
	// node's start timings measure the process start by.
	MainAtUs int64 `json:"mainAtUs,omitempty"`
}
