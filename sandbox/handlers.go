package sandbox

import (
	"context"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

var okOut = methods.OKOutput{OK: true}

// waits reads an optional wait input: absent means wait.
func waits(w *bool) bool { return w == nil || *w }

// RegisterInstance binds the sandbox methods of the instance RPC.
func (s *Service) RegisterInstance(r *rpc.Registry) {
	rpc.Register(r, methods.CreateSandbox, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.InstanceCreateSandboxInput) (methods.InstanceCreateSandboxOutput, error) {
		create := s.CreateReady
		if !waits(in.Wait) {
			create = s.Create
		}
		row, err := create(ctx, inst)
		return methods.InstanceCreateSandboxOutput{SandboxID: row.ID}, err
	}))
	rpc.Register(r, methods.EnsureSandbox, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.InstanceEnsureSandboxInput) (methods.InstanceEnsureSandboxOutput, error) {
		ensure := s.EnsureReady
		if !waits(in.Wait) {
			ensure = s.Ensure
		}
		row, err := ensure(ctx, inst)
		return methods.InstanceEnsureSandboxOutput{SandboxID: row.ID, State: string(row.State)}, err
	}))
	rpc.Register(r, methods.PauseSandbox, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.InstancePauseSandboxInput) (methods.OKOutput, error) {
		return okOut, s.Pause(ctx, inst, in.SandboxID, "request")
	}))
	rpc.Register(r, methods.ResumeSandbox, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.InstanceResumeSandboxInput) (methods.OKOutput, error) {
		return okOut, s.Resume(ctx, inst, waits(in.Wait))
	}))
	rpc.Register(r, methods.TerminateSandbox, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.InstanceTerminateSandboxInput) (methods.OKOutput, error) {
		return okOut, s.Terminate(ctx, inst, in.SandboxID)
	}))
	rpc.Register(r, methods.RestartAgent, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.InstanceRestartAgentInput) (methods.OKOutput, error) {
		return okOut, s.RestartAgent(ctx, inst, in.SandboxID)
	}))
	rpc.Register(r, methods.GetAgentLogs, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.InstanceGetAgentLogsInput) (methods.GetAgentLogsOutput, error) {
		return s.Logs(ctx, inst, in.SandboxID, in.Lines)
	}))
	rpc.Register(r, methods.ExecInSandbox, instance.Method(func(ctx context.Context, inst instance.Row, c rpc.Caller, in methods.InstanceExecInSandboxInputFull) (methods.InstanceExecInSandboxOutputFull, error) {
		return s.Exec(ctx, inst, c.ID, in)
	}))
	rpc.Register(r, methods.ValidateSandboxToken, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.InstanceValidateSandboxTokenInput) (methods.InstanceValidateSandboxTokenOutput, error) {
		ok, err := s.ValidateToken(ctx, inst, in.SandboxID, in.Token)
		return methods.InstanceValidateSandboxTokenOutput{Value: ok}, err
	}))
	rpc.Register(r, methods.GetExecOutput, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.GetExecOutputInput) (methods.GetExecOutputOutput, error) {
		return s.ExecOutput(ctx, inst, in)
	}))
	rpc.Register(r, methods.ListExecs, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.ListExecsInput) (methods.ListExecsOutput, error) {
		return s.ListExecs(ctx, inst, in)
	}))
	rpc.Register(r, methods.CancelExec, instance.Method(func(ctx context.Context, inst instance.Row, _ rpc.Caller, in methods.CancelExecInput) (methods.CancelExecOutput, error) {
		return s.CancelExec(ctx, inst, in.ExecID)
	}))
}
