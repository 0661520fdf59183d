// Package client is the Go client of roost's RPC: the platform RPC with an
// API key and the instance RPC with an instance token, typed by package
// methods. Failures come back as *Error carrying the wire type, message,
// details and HTTP status.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/roosthq/roost/methods"
)

// Error is a failure the server answered.
type Error struct {
	Type    methods.ErrorType
	Message string
	Details json.RawMessage
	Status  int
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Type, e.Status, e.Message)
}

// TypeOf returns the wire type of err if it is an *Error, else "".
func TypeOf(err error) methods.ErrorType {
	var e *Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ""
}

// Options configures a client.
type Options struct {
	// HTTPClient sends the requests; default http.DefaultClient.
	HTTPClient *http.Client
	// Header is added to every request (for example Origin).
	Header http.Header
}

type transport struct {
	endpoint string
	auth     string
	hc       *http.Client
	header   http.Header
}

func newTransport(endpoint, auth string, o *Options) transport {
	t := transport{endpoint: endpoint, auth: auth, hc: http.DefaultClient}
	if o != nil {
		if o.HTTPClient != nil {
			t.hc = o.HTTPClient
		}
		t.header = o.Header
	}
	return t
}

type wireReply struct {
	OK    bool            `json:"ok"`
	Value json.RawMessage `json:"value"`
	Error *struct {
		Type    methods.ErrorType `json:"type"`
		Message string            `json:"message"`
		Details json.RawMessage   `json:"details"`
	} `json:"error"`
}

// call sends {method, input} and decodes the value into out (if not nil).
func (t transport) call(ctx context.Context, method string, input, out any) error {
	body, err := json.Marshal(map[string]any{"method": method, "input": input})
	if err != nil {
		return fmt.Errorf("encode %s input: %w", method, err)
	}
	raw, err := t.post(ctx, body)
	if err != nil {
		return err
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode %s reply: %w", method, err)
	}
	return nil
}

// post sends a raw body and returns the raw value of a successful reply.
func (t transport) post(ctx context.Context, body []byte) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range t.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	if t.auth != "" {
		req.Header.Set("Authorization", "Bearer "+t.auth)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	var r wireReply
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, &Error{Type: "transport_error", Status: resp.StatusCode,
			Message: fmt.Sprintf("the server answered HTTP %d with a body that is not an RPC reply: %.200s", resp.StatusCode, strings.TrimSpace(string(data)))}
	}
	if !r.OK || resp.StatusCode != http.StatusOK {
		if r.Error == nil {
			return nil, &Error{Type: "transport_error", Status: resp.StatusCode, Message: fmt.Sprintf("HTTP %d", resp.StatusCode)}
		}
		return nil, &Error{Type: r.Error.Type, Message: r.Error.Message, Details: r.Error.Details, Status: resp.StatusCode}
	}
	return r.Value, nil
}

// Client calls the platform RPC with an API key.
type Client struct {
	BaseURL string
	t       transport
}

// New returns a platform client for the base URL (http://host:port).
func New(baseURL, apiKey string, o *Options) *Client {
	baseURL = strings.TrimRight(baseURL, "/")
	return &Client{BaseURL: baseURL, t: newTransport(baseURL+"/api/v1/rpc", apiKey, o)}
}

// Call calls any method with any input, decoding the value into out.
func (c *Client) Call(ctx context.Context, method string, input, out any) error {
	return c.t.call(ctx, method, input, out)
}

// CallRaw sends a raw request body and returns the raw value.
func (c *Client) CallRaw(ctx context.Context, body []byte) (json.RawMessage, error) {
	return c.t.post(ctx, body)
}

func call[Out any](ctx context.Context, t transport, method string, in any) (*Out, error) {
	var out Out
	if err := t.call(ctx, method, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateInstance calls instances.create.
func (c *Client) CreateInstance(ctx context.Context, in methods.CreateInstanceInput) (*methods.CreateInstanceOutput, error) {
	return call[methods.CreateInstanceOutput](ctx, c.t, methods.InstancesCreate, in)
}

// GetInstance calls instances.get.
func (c *Client) GetInstance(ctx context.Context, id string) (*methods.GetInstanceOutput, error) {
	return call[methods.GetInstanceOutput](ctx, c.t, methods.InstancesGet, methods.GetInstanceInput{InstanceID: id})
}

// ListInstances calls instances.list.
func (c *Client) ListInstances(ctx context.Context, in methods.ListInstancesInput) (*methods.ListInstancesOutput, error) {
	return call[methods.ListInstancesOutput](ctx, c.t, methods.InstancesList, in)
}

// InstanceStatus calls instances.status.
func (c *Client) InstanceStatus(ctx context.Context, id string) (*methods.GetInstanceStatusOutput, error) {
	return call[methods.GetInstanceStatusOutput](ctx, c.t, methods.InstancesStatus, methods.GetInstanceStatusInput{InstanceID: id})
}

// ArchiveInstance calls instances.archive.
func (c *Client) ArchiveInstance(ctx context.Context, id string) (*methods.ArchiveInstanceOutput, error) {
	return call[methods.ArchiveInstanceOutput](ctx, c.t, methods.InstancesArchive, methods.ArchiveInstanceInput{InstanceID: id})
}

// ListSessions calls sessions.list.
func (c *Client) ListSessions(ctx context.Context, instanceID string) (*methods.ListSessionsOutput, error) {
	return call[methods.ListSessionsOutput](ctx, c.t, methods.SessionsList, methods.ListSessionsInput{InstanceID: instanceID})
}

// CreateToken calls tokens.create.
func (c *Client) CreateToken(ctx context.Context, in methods.CreateInstanceTokenInput) (*methods.CreateInstanceTokenOutput, error) {
	return call[methods.CreateInstanceTokenOutput](ctx, c.t, methods.TokensCreate, in)
}

// ListTemplates calls templates.list.
func (c *Client) ListTemplates(ctx context.Context) (*methods.ListTemplatesOutput, error) {
	return call[methods.ListTemplatesOutput](ctx, c.t, methods.TemplatesList, methods.ListTemplatesInput{})
}

// InstanceClient calls one instance's RPC with an instance token.
type InstanceClient struct {
	BaseURL    string
	InstanceID string
	t          transport
}

// NewInstance returns a client of the instance RPC of instanceID.
func NewInstance(baseURL, instanceID, token string, o *Options) *InstanceClient {
	baseURL = strings.TrimRight(baseURL, "/")
	return &InstanceClient{BaseURL: baseURL, InstanceID: instanceID,
		t: newTransport(baseURL+"/api/v1/instances/"+instanceID+"/rpc", token, o)}
}

// Call calls any instance method with any input.
func (c *InstanceClient) Call(ctx context.Context, method string, input, out any) error {
	return c.t.call(ctx, method, input, out)
}

// ListSessions calls listSessions.
func (c *InstanceClient) ListSessions(ctx context.Context) (*methods.InstanceListSessionsOutput, error) {
	return call[methods.InstanceListSessionsOutput](ctx, c.t, methods.ListSessions, methods.InstanceListSessionsInput{})
}

// ListNodes calls nodes.list (admin key).
func (c *Client) ListNodes(ctx context.Context) (*methods.ListNodesOutput, error) {
	return call[methods.ListNodesOutput](ctx, c.t, methods.NodesList, methods.ListNodesInput{})
}

// GetNode calls nodes.get (admin key).
func (c *Client) GetNode(ctx context.Context, id string) (*methods.Node, error) {
	return call[methods.Node](ctx, c.t, methods.NodesGet, methods.NodeRef{NodeID: id})
}

// CreateEnrollToken calls nodes.createEnrollToken (admin key).
func (c *Client) CreateEnrollToken(ctx context.Context, in methods.CreateEnrollTokenInput) (*methods.CreateEnrollTokenOutput, error) {
	return call[methods.CreateEnrollTokenOutput](ctx, c.t, methods.NodesCreateEnrollToken, in)
}

// DrainNode calls nodes.drain; UndrainNode nodes.undrain; RemoveNode
// nodes.remove (admin key).
func (c *Client) DrainNode(ctx context.Context, id string) error {
	return c.t.call(ctx, methods.NodesDrain, methods.NodeRef{NodeID: id}, nil)
}

// UndrainNode calls nodes.undrain (admin key).
func (c *Client) UndrainNode(ctx context.Context, id string) error {
	return c.t.call(ctx, methods.NodesUndrain, methods.NodeRef{NodeID: id}, nil)
}

// RemoveNode calls nodes.remove (admin key).
func (c *Client) RemoveNode(ctx context.Context, id string) error {
	return c.t.call(ctx, methods.NodesRemove, methods.NodeRef{NodeID: id}, nil)
}
