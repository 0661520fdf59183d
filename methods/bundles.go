package methods

// Roost additions for bundles.
const (
	BundlesPublish = "bundles.publish"
	BundlesGet     = "bundles.get"
)

// BundleManifest is roost.json, the manifest at the root of a bundle archive.
type BundleManifest struct {
	// Name of the agent.
	Name string `json:"name"`
	// Version of this revision; unique within the bundle.
	Version string `json:"version"`
	// Entrypoint is the argv that starts the agent, relative to /agent.
	Entrypoint []string `json:"entrypoint"`
	// Presets are the kinds of session the agent offers.
	Presets []BundlePreset `json:"presets"`
	// Services are the ports the agent serves, by type.
	Services []BundleService `json:"services"`
	// Env is added to the agent's environment.
	Env map[string]string `json:"env,omitempty"`
	// Health is an HTTP path on the agent answering 200 when ready; absent,
	// null or "none" for no health check.
	Health *string `json:"health,omitempty"`
}

// BundlePreset is a kind of session an agent offers.
type BundlePreset struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// BundleService is a port an agent serves.
type BundleService struct {
	ServiceType string `json:"serviceType"`
	Port        int    `json:"port"`
	// Public services need no instance token or cookie.
	Public bool `json:"public,omitempty"`
}

// PublishBundleInput is the input of bundles.publish: an uploaded archive
// (.tar.gz or .zip) becomes a new revision of the bundle with the slug,
// which is created if missing.
type PublishBundleInput struct {
	Slug        string `json:"slug" required:"true"`
	FileID      string `json:"fileId" required:"true"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// PublishBundleOutput is the output of bundles.publish.
type PublishBundleOutput struct {
	BundleID   string `json:"bundleId"`
	RevisionID string `json:"revisionId"`
	Version    string `json:"version"`
}

// GetBundleInput is the input of bundles.get: by id or slug.
type GetBundleInput struct {
	BundleID   string `json:"bundleId,omitempty"`
	BundleSlug string `json:"bundleSlug,omitempty"`
}

// BundleRevision is one published revision of a bundle.
type BundleRevision struct {
	ID        string         `json:"id"`
	Version   string         `json:"version"`
	FileID    string         `json:"fileId"`
	R2Key     string         `json:"r2Key"`
	SHA256    string         `json:"sha256"`
	Manifest  BundleManifest `json:"manifest"`
	CreatedAt string         `json:"createdAt"`
}

// GetBundleOutput is the output of bundles.get, revisions newest first.
type GetBundleOutput struct {
	ID          string           `json:"id"`
	Slug        string           `json:"slug"`
	Name        *string          `json:"name"`
	Description *string          `json:"description"`
	Revisions   []BundleRevision `json:"revisions"`
	CreatedAt   string           `json:"createdAt"`
}
