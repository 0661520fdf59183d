package methods

// Sandbox states.
const (
	SandboxCreating    = "creating"
	SandboxRunning     = "running"
	SandboxPaused      = "paused"
	SandboxTerminating = "terminating"
	SandboxTerminated  = "terminated"
	SandboxError       = "error"
)

// Roost additions to the instance RPC: exec history and output.
const (
	GetExecOutput = "getExecOutput"
	ListExecs     = "listExecs"
	CancelExec    = "cancelExec"
)

// InstanceExecInSandboxInputFull is execInSandbox's input with roost's
// optional additions: a timeout (default 5 minutes) and environment.
type InstanceExecInSandboxInputFull struct {
	Command   string            `json:"command" required:"true"`
	TimeoutMs *int64            `json:"timeoutMs,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// InstanceExecInSandboxOutputFull is execInSandbox's output with roost's
// additions.
type InstanceExecInSandboxOutputFull struct {
	Stdout          string `json:"stdout"`
	Stderr          string `json:"stderr"`
	Success         bool   `json:"success"`
	ExitCode        int    `json:"exitCode"`
	ExecID          string `json:"execId"`
	DurationMs      int64  `json:"durationMs"`
	TimedOut        bool   `json:"timedOut"`
	Cancelled       bool   `json:"cancelled"`
	StdoutTruncated bool   `json:"stdoutTruncated"`
	StderrTruncated bool   `json:"stderrTruncated"`
	// OutOfMemory says the command was killed because the sandbox reached
	// its memory limit; stderr ends with a line that says so.
	OutOfMemory bool `json:"outOfMemory,omitempty"`
	// DiskFull says the command failed with the workspace full (the
	// template's diskMb); stderr ends with a line that says so.
	DiskFull bool `json:"diskFull,omitempty"`
}

// GetExecOutputInput reads a command's full output.
type GetExecOutputInput struct {
	ExecID string `json:"execId" required:"true"`
	// Stream is "stdout" (default) or "stderr".
	Stream string `json:"stream,omitempty"`
	Offset *int64 `json:"offset,omitempty"`
	// Limit in bytes; default and most 1 MiB.
	Limit *int64 `json:"limit,omitempty"`
}

// GetExecOutputOutput is a piece of a command's output.
type GetExecOutputOutput struct {
	ExecID    string `json:"execId"`
	Stream    string `json:"stream"`
	Data      string `json:"data"`
	Offset    int64  `json:"offset"`
	TotalSize int64  `json:"totalSize"`
	EOF       bool   `json:"eof"`
}

// ListExecsInput pages the instance's command history.
type ListExecsInput struct {
	Limit  *int `json:"limit,omitempty"`
	Offset *int `json:"offset,omitempty"`
}

// ExecSummary is a command in the history.
type ExecSummary struct {
	ExecID     string  `json:"execId"`
	SandboxID  string  `json:"sandboxId"`
	Command    string  `json:"command"`
	Status     string  `json:"status"` // running, completed, failed, timed_out, cancelled
	ExitCode   *int    `json:"exitCode"`
	Detail     string  `json:"detail,omitempty"`
	StartedAt  string  `json:"startedAt"`
	FinishedAt *string `json:"finishedAt"`
	DurationMs *int64  `json:"durationMs"`
}

// ListExecsOutput is the history, newest first.
type ListExecsOutput struct {
	Execs []ExecSummary `json:"execs"`
	Total int           `json:"total"`
}

// CancelExecInput names a running command.
type CancelExecInput struct {
	ExecID string `json:"execId" required:"true"`
}

// CancelExecOutput tells whether a running command was stopped.
type CancelExecOutput struct {
	OK        bool `json:"ok"`
	Cancelled bool `json:"cancelled"`
}
