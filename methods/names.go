package methods

// Platform method names (POST /api/v1/rpc, API key).
const (
	InstancesCreate  = "instances.create"
	InstancesGet     = "instances.get"
	InstancesList    = "instances.list"
	InstancesStatus  = "instances.status"
	InstancesArchive = "instances.archive"

	SessionsCreate  = "sessions.create"
	SessionsList    = "sessions.list"
	SessionsPublish = "sessions.publish"

	TokensCreate = "tokens.create"

	ServicesGetURL = "services.getUrl"

	BundlesList   = "bundles.list"
	BundlesDelete = "bundles.delete"

	ResourcesCreate      = "resources.create"
	ResourcesAddRevision = "resources.addRevision"
	ResourcesGet         = "resources.get"
	ResourcesList        = "resources.list"
	ResourcesDelete      = "resources.delete"

	// Roost additions under the same envelope.
	TemplatesList = "templates.list"
)

// Instance method names (POST /api/v1/instances/:id/rpc, instance token).
const (
	CreateSandbox        = "createSandbox"
	EnsureSandbox        = "ensureSandbox"
	PauseSandbox         = "pauseSandbox"
	ResumeSandbox        = "resumeSandbox"
	TerminateSandbox     = "terminateSandbox"
	RestartAgent         = "restartAgent"
	GetAgentLogs         = "getAgentLogs"
	ExecInSandbox        = "execInSandbox"
	ValidateSandboxToken = "validateSandboxToken"
	CreateSession        = "createSession"
	ListSessions         = "listSessions"
	PublishSession       = "publishSession"
	GetServiceURL        = "getServiceUrl"
	GetServiceURLs       = "getServiceUrls"
)

// PlatformMethods lists every platform method of the contract, in its order.
var PlatformMethods = []string{
	InstancesCreate, InstancesGet, InstancesList, InstancesStatus, InstancesArchive,
	SessionsCreate, SessionsList, SessionsPublish,
	TokensCreate,
	ServicesGetURL,
	BundlesList, BundlesDelete,
	ResourcesCreate, ResourcesAddRevision, ResourcesGet, ResourcesList, ResourcesDelete,
}

// InstanceMethods lists every instance method of the contract, in its order.
var InstanceMethods = []string{
	CreateSandbox, PauseSandbox, ResumeSandbox, TerminateSandbox, RestartAgent,
	GetAgentLogs, ExecInSandbox, ValidateSandboxToken,
	CreateSession, ListSessions, PublishSession,
	GetServiceURL, GetServiceURLs,
	EnsureSandbox,
}
