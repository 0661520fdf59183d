package methods

// Roost additions: node administration (admin API keys only).
const (
	NodesList              = "nodes.list"
	NodesGet               = "nodes.get"
	NodesCreateEnrollToken = "nodes.createEnrollToken"
	NodesDrain             = "nodes.drain"
	NodesUndrain           = "nodes.undrain"
	NodesRemove            = "nodes.remove"
)

// Node statuses.
const (
	NodeOnline   = "online"
	NodeOffline  = "offline"
	NodeDraining = "draining"
)

// NodeMetrics is what a node's last heartbeat reported.
type NodeMetrics struct {
	CPUUsage         float64    `json:"cpuUsage"`
	MemoryUsedMB     int64      `json:"memoryUsedMb"`
	MemoryTotalMB    int64      `json:"memoryTotalMb"`
	LoadAverage      [3]float64 `json:"loadAverage"`
	RunningSandboxes int        `json:"runningSandboxes"`
	DiskFreeMB       int64      `json:"diskFreeMb"`
	Version          string     `json:"version"`
	// WarmPools are the node's warm pools: sandboxes started ahead of
	// need, by shape (isolation/network/limits) and the templates of it.
	WarmPools []NodeWarmPool `json:"warmPools,omitempty"`
	// Starts sums up the node's last 256 cold and warm sandbox starts.
	Starts *NodeStarts `json:"starts,omitempty"`
	// Disks are the node's workspaces with a disk limit (the template's
	// diskMb) and what each holds, in MiB.
	Disks []NodeSandboxDisk `json:"disks,omitempty"`
}

// NodeSandboxDisk is a limited workspace's use.
type NodeSandboxDisk struct {
	SandboxID string `json:"sandboxId"`
	UsedMB    int64  `json:"usedMb"`
	LimitMB   int64  `json:"limitMb"`
}

// NodeWarmPool is one warm pool of a node.
type NodeWarmPool struct {
	Key       string   `json:"key"`
	Templates []string `json:"templates"`
	Size      int      `json:"size"`
	Idle      int      `json:"idle"`
	Starting  int      `json:"starting"`
	Claimed   int64    `json:"claimed"`
	Retired   int64    `json:"retired"`
	LastError string   `json:"lastError,omitempty"`
}

// NodeStarts sums up a node's recent sandbox starts; the times are the
// node's part of a start, in µs, medians.
type NodeStarts struct {
	Cold      int              `json:"cold"`
	Warm      int              `json:"warm"`
	ColdP50   NodeStartTimings `json:"coldP50"`
	WarmP50Us int64            `json:"warmP50Us"`
}

// NodeStartTimings are the parts of a cold start on a node, in µs: the
// wait for a start slot, the preparation (directories, cgroups, bundle),
// the spawn of the sandbox up to the supervisor's main (start gate,
// bubblewrap, the supervisor's runtime), and spawn to the supervisor
// answering.
type NodeStartTimings struct {
	QueuedUs     int64 `json:"queuedUs"`
	PrepareUs    int64 `json:"prepareUs"`
	SpawnUs      int64 `json:"spawnUs"`
	SupervisorUs int64 `json:"supervisorUs"`
}

// Node describes a worker node.
type Node struct {
	ID              string       `json:"id"`
	Name            string       `json:"name"`
	Hostname        string       `json:"hostname"`
	Status          string       `json:"status"`
	Labels          []string     `json:"labels"`
	Metrics         *NodeMetrics `json:"metrics"`
	LastHeartbeatAt *string      `json:"lastHeartbeatAt"`
	Version         string       `json:"version"`
	CreatedAt       string       `json:"createdAt"`
	// Shared is true for a node of the platform's shared fleet, which the
	// operator runs for every organization; false for a node of the
	// caller's organization's own, which runs only its instances. An
	// organization sees a shared node only while its instances run there,
	// without its hostname and metrics.
	Shared bool `json:"shared"`
}

// ListNodesInput is the input of nodes.list.
type ListNodesInput struct{}

// ListNodesOutput is the output of nodes.list.
type ListNodesOutput struct {
	Nodes []Node `json:"nodes"`
}

// NodeRef names a node (nodes.get, drain, undrain, remove).
type NodeRef struct {
	NodeID string `json:"nodeId" required:"true"`
}

// CreateEnrollTokenInput is the input of nodes.createEnrollToken.
type CreateEnrollTokenInput struct {
	// TTL in seconds; default 3600, at most 7 days.
	TTL *int `json:"ttl,omitempty"`
	// Labels given to the node that enrolls with the token.
	Labels []string `json:"labels,omitempty"`
}

// CreateEnrollTokenOutput is the output of nodes.createEnrollToken.
type CreateEnrollTokenOutput struct {
	Token          string `json:"token"`
	ExpiresAt      string `json:"expiresAt"`
	InstallCommand string `json:"installCommand"`
	// Shared says the node the token enrolls joins the platform's shared
	// fleet (an operator's token); otherwise it is a node of the caller's
	// organization's own, which only its instances use.
	Shared bool `json:"shared"`
}
