package rpctest

import (
	"testing"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
)

// CreateInstance creates an instance of the default template with the Go
// client, bound by testutil.Short, and returns its id.
func CreateInstance(t testing.TB, c *client.Client, name string) string {
	t.Helper()
	out, err := c.CreateInstance(testutil.Context(t, testutil.Short), methods.CreateInstanceInput{TemplateSlug: "default", Name: name})
	if err != nil {
		t.Fatalf("instances.create: %v", err)
	}
	return out.InstanceID
}

// CreateToken issues an instance token with the Go client, bound by
// testutil.Short.
func CreateToken(t testing.TB, c *client.Client, in methods.CreateInstanceTokenInput) *methods.CreateInstanceTokenOutput {
	t.Helper()
	out, err := c.CreateToken(testutil.Context(t, testutil.Short), in)
	if err != nil {
		t.Fatalf("tokens.create: %v", err)
	}
	return out
}
