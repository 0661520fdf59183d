package sandbox

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

var errNoInstance = &rpc.Error{Type: methods.Unauthorized,
	Message: "This method needs an instance token: send it as Authorization: Bearer <token>."}

// onInstance adapts an instance-RPC method: the instance is the one the
// caller's token opens, already checked by authentication.
func onInstance[In, Out any](s *Service, fn func(ctx context.Context, inst InstanceInfo, c rpc.Caller, in In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		var zero Out
		c, ok := rpc.CallerFrom(ctx)
		if !ok || c.InstanceID == "" {
			return zero, errNoInstance
		}
		inst, err := s.o.Instances.Info(ctx, c.OrgID, c.InstanceID)
		if err != nil {
			return zero, err
		}
		return fn(ctx, inst, c, in)
	}
}

var okOut = methods.OKOutput{OK: true}

// RegisterInstance binds the sandbox methods of the instance RPC.
func (s *Service) RegisterInstance(r *rpc.Registry) {
	rpc.Register(r, methods.CreateSandbox, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, _ methods.InstanceCreateSandboxInput) (methods.InstanceCreateSandboxOutput, error) {
		row, err := s.Create(ctx, inst)
		return methods.InstanceCreateSandboxOutput{SandboxID: row.ID}, err
	}))
	rpc.Register(r, methods.EnsureSandbox, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, _ methods.InstanceEnsureSandboxInput) (methods.InstanceEnsureSandboxOutput, error) {
		row, err := s.Ensure(ctx, inst)
		return methods.InstanceEnsureSandboxOutput{SandboxID: row.ID, State: string(row.State)}, err
	}))
	rpc.Register(r, methods.PauseSandbox, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, in methods.InstancePauseSandboxInput) (methods.OKOutput, error) {
		return okOut, s.Pause(ctx, inst, in.SandboxID, "request")
	}))
	rpc.Register(r, methods.ResumeSandbox, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, _ methods.InstanceResumeSandboxInput) (methods.OKOutput, error) {
		return okOut, s.Resume(ctx, inst)
	}))
	rpc.Register(r, methods.TerminateSandbox, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, in methods.InstanceTerminateSandboxInput) (methods.OKOutput, error) {
		return okOut, s.Terminate(ctx, inst, in.SandboxID)
	}))
	rpc.Register(r, methods.RestartAgent, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, in methods.InstanceRestartAgentInput) (methods.OKOutput, error) {
		return okOut, s.RestartAgent(ctx, inst, in.SandboxID)
	}))
	rpc.Register(r, methods.GetAgentLogs, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, in methods.InstanceGetAgentLogsInput) (methods.GetAgentLogsOutput, error) {
		return s.Logs(ctx, inst, in.SandboxID, in.Lines)
	}))
	rpc.Register(r, methods.ExecInSandbox, onInstance(s, func(ctx context.Context, inst InstanceInfo, c rpc.Caller, in methods.InstanceExecInSandboxInputFull) (methods.InstanceExecInSandboxOutputFull, error) {
		return s.Exec(ctx, inst, c.ID, in)
	}))
	rpc.Register(r, methods.ValidateSandboxToken, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, in methods.InstanceValidateSandboxTokenInput) (methods.InstanceValidateSandboxTokenOutput, error) {
		ok, err := s.ValidateToken(ctx, inst, in.SandboxID, in.Token)
		return methods.InstanceValidateSandboxTokenOutput{Value: ok}, err
	}))
	rpc.Register(r, methods.GetExecOutput, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, in methods.GetExecOutputInput) (methods.GetExecOutputOutput, error) {
		return s.ExecOutput(ctx, inst, in)
	}))
	rpc.Register(r, methods.ListExecs, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, in methods.ListExecsInput) (methods.ListExecsOutput, error) {
		return s.ListExecs(ctx, inst, in)
	}))
	rpc.Register(r, methods.CancelExec, onInstance(s, func(ctx context.Context, inst InstanceInfo, _ rpc.Caller, in methods.CancelExecInput) (methods.CancelExecOutput, error) {
		return s.CancelExec(ctx, inst, in.ExecID)
	}))
}
