package methods

// Inputs and outputs of the instance RPC. The instance comes from the path,
// so no input carries an instanceId.

// InstanceCreateSandboxInput is the input of createSandbox.
type InstanceCreateSandboxInput struct {
	Wait *bool `json:"wait,omitempty" doc:"Wait (the default) returns once the sandbox runs and its agent answers health, or fails with why; false returns at once, while it may still be starting."`
}

// InstanceCreateSandboxOutput is the output of createSandbox.
type InstanceCreateSandboxOutput struct {
	SandboxID string `json:"sandboxId"`
}

// InstanceSandboxInput names a sandbox of the instance (pauseSandbox,
// terminateSandbox, restartAgent).
type InstanceSandboxInput struct {
	SandboxID string `json:"sandboxId" required:"true"`
}

// Aliases that keep the contract's names.
type (
	InstancePauseSandboxInput     = InstanceSandboxInput
	InstanceTerminateSandboxInput = InstanceSandboxInput
	InstanceRestartAgentInput     = InstanceSandboxInput
	InstanceOKOutput              = OKOutput
)

// InstanceResumeSandboxInput is the input of resumeSandbox.
type InstanceResumeSandboxInput struct {
	Wait *bool `json:"wait,omitempty" doc:"Wait (the default) returns once the sandbox runs and its agent answers health, or fails with why; false returns at once, while it may still be starting."`
}

// InstanceGetAgentLogsInput is the input of getAgentLogs.
type InstanceGetAgentLogsInput struct {
	SandboxID string `json:"sandboxId" required:"true"`
	Lines     *int   `json:"lines,omitempty"`
}

// InstanceExecInSandboxInput is the input of execInSandbox.
type InstanceExecInSandboxInput struct {
	Command string `json:"command" required:"true"`
}

// InstanceExecInSandboxOutput is the output of execInSandbox.
type InstanceExecInSandboxOutput struct {
	Stdout  string `json:"stdout"`
	Stderr  string `json:"stderr"`
	Success bool   `json:"success"`
}

// InstanceValidateSandboxTokenInput is the input of validateSandboxToken.
type InstanceValidateSandboxTokenInput struct {
	SandboxID string `json:"sandboxId" required:"true"`
	Token     string `json:"token" required:"true"`
}

// InstanceValidateSandboxTokenOutput is the output of validateSandboxToken.
type InstanceValidateSandboxTokenOutput struct {
	Value bool `json:"value"`
}

// InstanceCreateSessionInput is the input of createSession.
type InstanceCreateSessionInput struct {
	PresetID string `json:"presetId" required:"true"`
}

// InstanceCreateSessionOutput is the output of createSession.
type InstanceCreateSessionOutput struct {
	SessionID string `json:"sessionId"`
}

// InstanceListSessionsInput is the input of listSessions.
type InstanceListSessionsInput struct{}

// InstanceSession is a session as the instance RPC lists it: createdAt in
// Unix milliseconds.
type InstanceSession struct {
	ID        string  `json:"id"`
	PresetID  *string `json:"presetId"`
	Status    string  `json:"status"`
	CreatedAt int64   `json:"createdAt"`
}

// InstanceListSessionsOutput is the output of listSessions.
type InstanceListSessionsOutput struct {
	Sessions []InstanceSession `json:"sessions"`
}

// InstancePublishSessionInput is the input of publishSession.
type InstancePublishSessionInput struct {
	SessionID string `json:"sessionId" required:"true"`
}

// InstanceGetServiceURLInput is the input of getServiceUrl.
type InstanceGetServiceURLInput struct {
	SessionID   string `json:"sessionId" required:"true"`
	ServiceType string `json:"serviceType" required:"true"`
}

// InstanceGetServiceURLOutput is the output of getServiceUrl.
type InstanceGetServiceURLOutput = GetServiceURLOutput

// InstanceGetServiceURLsInput is the input of getServiceUrls.
type InstanceGetServiceURLsInput struct {
	SessionID string `json:"sessionId" required:"true"`
}

// InstanceService is a service of getServiceUrls.
type InstanceService struct {
	ServiceType string `json:"serviceType"`
	Code        string `json:"code"`
	Port        int    `json:"port"`
}

// InstanceGetServiceURLsOutput is the output of getServiceUrls.
type InstanceGetServiceURLsOutput struct {
	Services []InstanceService `json:"services"`
}

// InstanceEnsureSandboxInput is the input of ensureSandbox.
type InstanceEnsureSandboxInput struct {
	Wait *bool `json:"wait,omitempty" doc:"Wait (the default) returns once the sandbox runs and its agent answers health, or fails with why; false returns at once, while it may still be starting."`
}

// InstanceEnsureSandboxOutput is the output of ensureSandbox.
type InstanceEnsureSandboxOutput struct {
	SandboxID string `json:"sandboxId"`
	State     string `json:"state"`
}

// Roost additions to the instance RPC, for browser apps that hold only an
// instance token.
const (
	GetInstanceStatus = "getInstanceStatus"
	GetSessionToken   = "getSessionToken"
)

// InstanceGetStatusInput is the input of getInstanceStatus.
type InstanceGetStatusInput struct{}

// InstanceGetStatusOutput is instances.status for the instance, with the
// presets and services of its bundle.
type InstanceGetStatusOutput struct {
	GetInstanceStatusOutput
	Name     string          `json:"name"`
	Presets  []BundlePreset  `json:"presets"`
	Services []BundleService `json:"services"`
}

// InstanceGetSessionTokenInput is the input of getSessionToken.
type InstanceGetSessionTokenInput struct {
	SessionID string `json:"sessionId" required:"true"`
	// ExpiresIn in seconds; default 24 h, at most 7 days.
	ExpiresIn *int `json:"expiresIn,omitempty"`
}

// InstanceGetSessionTokenOutput is a session's wsToken.
type InstanceGetSessionTokenOutput struct {
	WSToken   string `json:"wsToken"`
	ExpiresAt string `json:"expiresAt"`
}
