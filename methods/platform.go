package methods

// ---------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------

// VCS types an instance may publish to.
const (
	VCSGitHub   = "github"
	VCSGitLocal = "gitLocal"
	VCSNone     = "none"
)

// Instance statuses as CreateInstanceOutput reports them; GetInstanceOutput
// may also report "archived".
const (
	InstanceCreated      = "created"
	InstanceInitializing = "initializing"
	InstanceReady        = "ready"
	InstanceArchived     = "archived"
	InstanceError        = "error"
)

// AutoCreateSession asks instances.create to open a session at once.
type AutoCreateSession struct {
	PresetID      string   `json:"presetId" required:"true"`
	Blocking      bool     `json:"blocking,omitempty"`
	InitialPrompt string   `json:"initialPrompt,omitempty"`
	ResourceIDs   []string `json:"resourceIds,omitempty"`
	FileIDs       []string `json:"fileIds,omitempty"`
}

// CreateInstanceInput is the input of instances.create.
type CreateInstanceInput struct {
	TemplateSlug      string             `json:"templateSlug" required:"true"`
	BundleSlug        string             `json:"bundleSlug,omitempty"`
	BundleRevisionID  string             `json:"bundleRevisionId,omitempty"`
	Name              string             `json:"name" required:"true"`
	VCSType           string             `json:"vcsType,omitempty"`
	Metadata          map[string]any     `json:"metadata,omitempty"`
	AutoCreateSession *AutoCreateSession `json:"autoCreateSession,omitempty"`
}

// CreateInstanceOutput is the output of instances.create.
type CreateInstanceOutput struct {
	InstanceID string `json:"instanceId"`
	Status     string `json:"status"`
	SessionID  string `json:"sessionId,omitempty"`
	WSToken    string `json:"wsToken,omitempty"`
}

// GetInstanceInput is the input of instances.get.
type GetInstanceInput struct {
	InstanceID string `json:"instanceId" required:"true"`
}

// GetInstanceOutput is the output of instances.get and an item of
// instances.list.
type GetInstanceOutput struct {
	InstanceID       string         `json:"instanceId"`
	Name             string         `json:"name"`
	Status           string         `json:"status"`
	TemplateSlug     string         `json:"templateSlug"`
	BundleSlug       string         `json:"bundleSlug"`
	BundleRevisionID string         `json:"bundleRevisionId"`
	VCSType          string         `json:"vcsType"`
	Metadata         map[string]any `json:"metadata"`
	CreatedAt        string         `json:"createdAt"`
}

// GetInstanceStatusInput is the input of instances.status.
type GetInstanceStatusInput struct {
	InstanceID string `json:"instanceId" required:"true"`
}

// SandboxSummary is the sandbox part of instances.status.
type SandboxSummary struct {
	State          string `json:"state"`
	E2BID          string `json:"e2bId,omitempty"`
	LastActivityAt string `json:"lastActivityAt,omitempty"`
}

// SessionSummary is a session as the platform RPC lists it.
type SessionSummary struct {
	ID        string  `json:"id"`
	PresetID  *string `json:"presetId"`
	Status    string  `json:"status"`
	CreatedAt string  `json:"createdAt"`
}

// LifecycleEvent is one recorded transition of an instance.
type LifecycleEvent struct {
	Event     string `json:"event"`
	Detail    string `json:"detail,omitempty"`
	CreatedAt string `json:"createdAt"`
}

// ServiceURL is a service URL as instances.status lists it.
type ServiceURL struct {
	Code        string  `json:"code"`
	SessionID   *string `json:"sessionId"`
	ServiceType *string `json:"serviceType"`
	Port        int     `json:"port"`
}

// GetInstanceStatusOutput is the output of instances.status.
type GetInstanceStatusOutput struct {
	InstanceID      string           `json:"instanceId"`
	Status          string           `json:"status"`
	Sandbox         *SandboxSummary  `json:"sandbox"`
	Sessions        []SessionSummary `json:"sessions"`
	LifecycleEvents []LifecycleEvent `json:"lifecycleEvents"`
	ServiceURLs     []ServiceURL     `json:"serviceUrls"`
}

// ArchiveInstanceInput is the input of instances.archive.
type ArchiveInstanceInput struct {
	InstanceID string `json:"instanceId" required:"true"`
}

// ArchiveInstanceOutput is the output of instances.archive.
type ArchiveInstanceOutput = OKOutput

// ListInstancesInput is the input of instances.list.
type ListInstancesInput struct {
	Limit  *int `json:"limit,omitempty"`
	Offset *int `json:"offset,omitempty"`
}

// ListInstancesOutput is the output of instances.list.
type ListInstancesOutput struct {
	Instances []GetInstanceOutput `json:"instances"`
	Total     int                 `json:"total"`
}

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

// CreateSessionInput is the input of sessions.create.
type CreateSessionInput struct {
	InstanceID string `json:"instanceId" required:"true"`
	PresetID   string `json:"presetId" required:"true"`
	Blocking   bool   `json:"blocking,omitempty"`
	Origin     string `json:"origin,omitempty"`
	ExpiresIn  *int   `json:"expiresIn,omitempty"`
}

// CreateSessionOutput is the output of sessions.create.
type CreateSessionOutput struct {
	SessionID string `json:"sessionId"`
	Status    string `json:"status"`
	WSToken   string `json:"wsToken,omitempty"`
}

// ListSessionsInput is the input of sessions.list.
type ListSessionsInput struct {
	InstanceID string `json:"instanceId" required:"true"`
}

// ListSessionsOutput is the output of sessions.list.
type ListSessionsOutput struct {
	Sessions []SessionSummary `json:"sessions"`
}

// PublishSessionInput is the input of sessions.publish.
type PublishSessionInput struct {
	InstanceID string `json:"instanceId" required:"true"`
	SessionID  string `json:"sessionId" required:"true"`
}

// PublishSessionOutput is the output of sessions.publish and publishSession.
type PublishSessionOutput struct {
	OK        bool   `json:"ok"`
	Pushed    bool   `json:"pushed"`
	CommitSHA string `json:"commitSha,omitempty"`
	Error     string `json:"error,omitempty"`
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

// CreateInstanceTokenInput is the input of tokens.create.
type CreateInstanceTokenInput struct {
	InstanceID string         `json:"instanceId" required:"true"`
	Origin     string         `json:"origin,omitempty"`
	ExpiresIn  *int           `json:"expiresIn,omitempty"`
	Meta       map[string]any `json:"meta,omitempty"`
}

// CreateInstanceTokenOutput is the output of tokens.create.
type CreateInstanceTokenOutput struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
}

// ---------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------

// ListBundlesInput is the input of bundles.list.
type ListBundlesInput struct {
	Limit  *int `json:"limit,omitempty"`
	Offset *int `json:"offset,omitempty"`
}

// BundleRevisionSummary is a bundle's latest revision as bundles.list shows it.
type BundleRevisionSummary struct {
	ID        string  `json:"id"`
	Version   *string `json:"version"`
	R2Key     string  `json:"r2Key"`
	CreatedAt string  `json:"createdAt"`
}

// BundleSummary is an item of bundles.list.
type BundleSummary struct {
	ID             string                 `json:"id"`
	Slug           string                 `json:"slug"`
	Name           *string                `json:"name"`
	Description    *string                `json:"description"`
	LatestRevision *BundleRevisionSummary `json:"latestRevision"`
	CreatedAt      string                 `json:"createdAt"`
}

// ListBundlesOutput is the output of bundles.list.
type ListBundlesOutput struct {
	Bundles []BundleSummary `json:"bundles"`
}

// DeleteBundleInput is the input of bundles.delete: one of the two.
type DeleteBundleInput struct {
	BundleID   string `json:"bundleId,omitempty"`
	BundleSlug string `json:"bundleSlug,omitempty"`
}

// DeleteBundleOutput is the output of bundles.delete.
type DeleteBundleOutput = OKOutput

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

// CreateResourceInput is the input of resources.create.
type CreateResourceInput struct {
	Slug        string `json:"slug" required:"true"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	FileID      string `json:"fileId" required:"true"`
	Label       string `json:"label,omitempty"`
}

// CreateResourceOutput is the output of resources.create.
type CreateResourceOutput struct {
	ResourceID string `json:"resourceId"`
	RevisionID string `json:"revisionId"`
}

// AddResourceRevisionInput is the input of resources.addRevision: the
// resource by id or slug.
type AddResourceRevisionInput struct {
	ResourceID   string `json:"resourceId,omitempty"`
	ResourceSlug string `json:"resourceSlug,omitempty"`
	FileID       string `json:"fileId" required:"true"`
	Label        string `json:"label,omitempty"`
}

// AddResourceRevisionOutput is the output of resources.addRevision.
type AddResourceRevisionOutput struct {
	RevisionID string `json:"revisionId"`
}

// GetResourceInput is the input of resources.get: by id or slug.
type GetResourceInput struct {
	ResourceID   string `json:"resourceId,omitempty"`
	ResourceSlug string `json:"resourceSlug,omitempty"`
}

// ResourceFile is the file of a resource revision.
type ResourceFile struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
}

// ResourceRevision is a resource's latest revision.
type ResourceRevision struct {
	ID        string       `json:"id"`
	Label     *string      `json:"label"`
	File      ResourceFile `json:"file"`
	CreatedAt string       `json:"createdAt"`
}

// GetResourceOutput is the output of resources.get and an item of
// resources.list.
type GetResourceOutput struct {
	ID             string            `json:"id"`
	Slug           string            `json:"slug"`
	Name           *string           `json:"name"`
	Description    *string           `json:"description"`
	LatestRevision *ResourceRevision `json:"latestRevision"`
	CreatedAt      string            `json:"createdAt"`
}

// ListResourcesInput is the input of resources.list.
type ListResourcesInput struct {
	Limit  *int `json:"limit,omitempty"`
	Offset *int `json:"offset,omitempty"`
}

// ListResourcesOutput is the output of resources.list.
type ListResourcesOutput struct {
	Resources []GetResourceOutput `json:"resources"`
}

// DeleteResourceInput is the input of resources.delete.
type DeleteResourceInput struct {
	ResourceID string `json:"resourceId" required:"true"`
}

// DeleteResourceOutput is the output of resources.delete.
type DeleteResourceOutput = OKOutput

// ---------------------------------------------------------------------------
// Sandboxes (admin/debug, platform side)
// ---------------------------------------------------------------------------

// SandboxRef names one sandbox of one instance.
type SandboxRef struct {
	InstanceID string `json:"instanceId" required:"true"`
	SandboxID  string `json:"sandboxId" required:"true"`
}

// PauseSandboxInput, ResumeSandboxInput, TerminateSandboxInput and
// RestartAgentInput name the sandbox to act on.
type (
	PauseSandboxInput     = SandboxRef
	ResumeSandboxInput    = SandboxRef
	TerminateSandboxInput = SandboxRef
	RestartAgentInput     = SandboxRef
	SandboxActionOutput   = OKOutput
)

// GetAgentLogsInput is the platform form of getAgentLogs.
type GetAgentLogsInput struct {
	InstanceID string `json:"instanceId" required:"true"`
	SandboxID  string `json:"sandboxId" required:"true"`
	Lines      *int   `json:"lines,omitempty"`
}

// GetAgentLogsOutput is the output of getAgentLogs.
type GetAgentLogsOutput struct {
	Logs      string `json:"logs"`
	Truncated bool   `json:"truncated"`
}

// ---------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------

// GetServiceURLInput is the input of services.getUrl.
type GetServiceURLInput struct {
	InstanceID  string `json:"instanceId" required:"true"`
	SessionID   string `json:"sessionId" required:"true"`
	ServiceType string `json:"serviceType" required:"true"`
}

// GetServiceURLOutput is the output of services.getUrl and getServiceUrl.
type GetServiceURLOutput struct {
	URL *string `json:"url"`
}

// ---------------------------------------------------------------------------
// Templates (roost)
// ---------------------------------------------------------------------------

// ListTemplatesInput is the input of templates.list.
type ListTemplatesInput struct{}

// Template describes a sandbox environment an instance can be created from.
type Template struct {
	Slug        string  `json:"slug"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Isolation   string  `json:"isolation"`
	MemoryMB    int     `json:"memoryMb"`
	CPUs        float64 `json:"cpus"`
	Pids        int     `json:"pids"`
	Network     string  `json:"network"`
	// TmpMB sizes the sandbox's /tmp and /dev/shm (each); their pages
	// count in MemoryMB. Default a quarter of MemoryMB.
	TmpMB int `json:"tmpMb"`
	// DiskMB bounds the workspace: a file system of its own of this size
	// on nodes that can make one (root, loop devices, mkfs.ext4). Default
	// 0: no limit beyond the node's disk.
	DiskMB             int `json:"diskMb,omitempty"`
	IdleTimeoutSeconds int `json:"idleTimeoutSeconds"`
	// StartTimeoutSeconds is how long a sandbox's agent has to answer
	// health before its start fails. Default 60.
	StartTimeoutSeconds int      `json:"startTimeoutSeconds"`
	RequiredLabels      []string `json:"requiredLabels"`
	// WarmPool is how many sandboxes of this template each node that can
	// run it keeps started and idle (0 to 64), so that a start claims one
	// in a few milliseconds. Unset: the platform's --warm-pool.
	WarmPool *int `json:"warmPool,omitempty"`
}

// ListTemplatesOutput is the output of templates.list.
type ListTemplatesOutput struct {
	Templates []Template `json:"templates"`
}
