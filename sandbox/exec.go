package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/fleet"
	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/lifecycle"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/node/nodeapi"
	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// errNoOutput answers a read of output its node no longer keeps.
var errNoOutput = &rpc.Error{Type: methods.NotFound,
	Message: "The output of this command is no longer on its node (the sandbox was terminated)."}

// Exec limits.
const (
	DefaultExecTimeout = 5 * time.Minute
	MaxExecTimeout     = 24 * time.Hour
	MaxCommandLength   = 64 << 10
	maxOutputChunk     = 1 << 20
)

// ExecStatus is a command's lifecycle state.
type ExecStatus string

// The states of a command: it runs, then ends one way, for good.
const (
	ExecRunning   ExecStatus = "running"
	ExecCompleted ExecStatus = "completed"
	ExecFailed    ExecStatus = "failed"
	ExecTimedOut  ExecStatus = "timed_out"
	ExecCancelled ExecStatus = "cancelled"
)

// ExecLifecycle is a command's table of moves; its events go to
// state_events (a busy instance runs many commands; its history stays
// about the instance and its sandbox).
var ExecLifecycle = lifecycle.New("exec", lifecycle.Rows{Table: "execs", Column: "status"},
	map[ExecStatus][]ExecStatus{
		ExecRunning:   {ExecCompleted, ExecFailed, ExecTimedOut, ExecCancelled},
		ExecCompleted: {},
		ExecFailed:    {},
		ExecTimedOut:  {},
		ExecCancelled: {},
	}, ExecRunning)

type execRow struct {
	ID         string        `db:"id"`
	OrgID      string        `db:"org_id"`
	InstanceID string        `db:"instance_id"`
	SandboxID  string        `db:"sandbox_id"`
	NodeID     string        `db:"node_id"`
	Command    string        `db:"command"`
	Status     ExecStatus    `db:"status"`
	ExitCode   sql.NullInt64 `db:"exit_code"`
	TimedOut   bool          `db:"timed_out"`
	StdoutSize int64         `db:"stdout_size"`
	StderrSize int64         `db:"stderr_size"`
	Detail     string        `db:"detail"`
	CallerID   string        `db:"caller_id"`
	CreatedAt  int64         `db:"created_at"`
	FinishedAt sql.NullInt64 `db:"finished_at"`
	DurationMs sql.NullInt64 `db:"duration_ms"`
}

const execColumns = `id, org_id, instance_id, sandbox_id, node_id, command, status, exit_code, timed_out, stdout_size, stderr_size, detail, caller_id, created_at, finished_at, duration_ms`

// Exec runs a command with bash -lc in the sandbox's workspace and waits
// for it. The full output stays on the node for getExecOutput.
func (s *Service) Exec(ctx context.Context, inst instance.Row, callerID string, in methods.InstanceExecInSandboxInputFull) (methods.InstanceExecInSandboxOutputFull, error) {
	var out methods.InstanceExecInSandboxOutputFull
	if strings.TrimSpace(in.Command) == "" || len(in.Command) > MaxCommandLength || !utf8.ValidString(in.Command) || strings.ContainsRune(in.Command, 0) {
		return out, rpc.InvalidField("command", "range", "The command must be non-empty UTF-8 without NUL, at most %d bytes.", MaxCommandLength)
	}
	timeout := DefaultExecTimeout
	if in.TimeoutMs != nil {
		if *in.TimeoutMs < 1 || *in.TimeoutMs > MaxExecTimeout.Milliseconds() {
			return out, rpc.InvalidField("timeoutMs", "range", "The timeoutMs must be between 1 and %d (24 hours).", MaxExecTimeout.Milliseconds())
		}
		timeout = time.Duration(*in.TimeoutMs) * time.Millisecond
	}
	if len(in.Env) > 256 {
		return out, rpc.InvalidField("env", "range", "At most 256 environment variables.")
	}
	for k, v := range in.Env {
		if !envName(k) || strings.ContainsRune(v, 0) {
			return out, rpc.InvalidField("env."+k, "format", "The env name %q must be letters, digits and _, not starting with a digit; values may not hold NUL.", k)
		}
	}
	r, err := s.usable(ctx, inst, "")
	if err != nil {
		return out, err
	}
	e := execRow{ID: storage.NewID("exe"), OrgID: r.OrgID, InstanceID: r.InstanceID, SandboxID: r.ID, NodeID: r.NodeID,
		Command: in.Command, Status: ExecRunning, CallerID: callerID, CreatedAt: storage.Now()}
	// The command's result is recorded even if the caller goes away.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout+time.Minute)
	defer cancel()
	// The history row is written while the node runs the command, not
	// before: its commit is off the command's path, and the answer waits
	// for it, so that a command answered is always in the history.
	started := make(chan error, 1)
	go func() {
		started <- s.o.DB.InTx(cctx, func(tx *sqlx.Tx) error {
			if _, err := tx.NamedExecContext(cctx, `INSERT INTO execs (`+execColumns+`) VALUES (:id, :org_id, :instance_id, :sandbox_id,
			:node_id, :command, :status, :exit_code, :timed_out, :stdout_size, :stderr_size, :detail, :caller_id, :created_at, :finished_at, :duration_ms)`, e); err != nil {
				return err
			}
			return ExecLifecycle.Record(cctx, tx, e.ID, e.InstanceID, "", string(ExecRunning), "started by "+callerID)
		})
	}()
	res, err := s.node(r).Exec(cctx, r.ID, nodeapi.ExecRequest{ExecID: e.ID, Command: in.Command, TimeoutMs: timeout.Milliseconds(), Env: in.Env})
	if serr := <-started; serr != nil {
		return out, fmt.Errorf("record exec %s (the command ran): %w", e.ID, serr)
	}
	now := storage.Now()
	if err != nil {
		why := reason(err)
		s.endExec(cctx, e, ExecFailed, why, lifecycle.Set{Column: "detail", Value: why},
			lifecycle.Set{Column: "finished_at", Value: now}, lifecycle.Set{Column: "duration_ms", Value: now - e.CreatedAt})
		return out, s.nodeFailure(ctx, &r, err)
	}
	status, why := ExecCompleted, fmt.Sprintf("exited with code %d", res.ExitCode)
	switch {
	case res.Cancelled:
		status, why = ExecCancelled, "cancelled by cancelExec"
	case res.TimedOut:
		status, why = ExecTimedOut, fmt.Sprintf("timed out after %d ms", timeout.Milliseconds())
	case res.OutOfMemory:
		why = fmt.Sprintf("the command ran out of memory (limit %s) and was killed", sayMB(res.LimitMB))
		if res.Stderr != "" && !strings.HasSuffix(res.Stderr, "\n") {
			res.Stderr += "\n"
		}
		res.Stderr += "roost: " + why + "\n"
	case res.DiskFull:
		why = fmt.Sprintf("exited with code %d: the workspace is full (limit %s)", res.ExitCode, sayMB(res.DiskMB))
		if res.Stderr != "" && !strings.HasSuffix(res.Stderr, "\n") {
			res.Stderr += "\n"
		}
		res.Stderr += fmt.Sprintf("roost: the workspace is full (limit %s); delete files or use a template with a larger diskMb\n", sayMB(res.DiskMB))
	}
	s.endExec(cctx, e, status, why, lifecycle.Set{Column: "exit_code", Value: res.ExitCode}, lifecycle.Set{Column: "timed_out", Value: res.TimedOut},
		lifecycle.Set{Column: "stdout_size", Value: res.StdoutSize}, lifecycle.Set{Column: "stderr_size", Value: res.StderrSize},
		lifecycle.Set{Column: "finished_at", Value: now}, lifecycle.Set{Column: "duration_ms", Value: res.DurationMs})
	s.store.touch(cctx, r.ID)
	return methods.InstanceExecInSandboxOutputFull{
		Stdout: res.Stdout, Stderr: res.Stderr, Success: res.ExitCode == 0 && !res.TimedOut && !res.Cancelled,
		ExitCode: res.ExitCode, ExecID: e.ID, DurationMs: res.DurationMs, TimedOut: res.TimedOut, Cancelled: res.Cancelled,
		StdoutTruncated: res.StdoutTruncated, StderrTruncated: res.StderrTruncated, OutOfMemory: res.OutOfMemory, DiskFull: res.DiskFull,
	}, nil
}

// sayMB says a size in MiB as a person would: 1 GiB, 512 MiB.
func sayMB(mb int) string {
	if mb >= 1024 && mb%1024 == 0 {
		return fmt.Sprintf("%d GiB", mb/1024)
	}
	return fmt.Sprintf("%d MiB", mb)
}

// endExec records how a running command ended. A command already ended
// (marked failed when its node reconnected) keeps its first ending.
func (s *Service) endExec(ctx context.Context, e execRow, to ExecStatus, why string, also ...lifecycle.Set) {
	err := s.o.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := ExecLifecycle.Move(ctx, tx, lifecycle.Step[ExecStatus]{ID: e.ID, InstanceID: e.InstanceID,
			From: ExecRunning, To: to, Reason: why, Also: also})
		return err
	})
	if err != nil {
		s.log.Error("record the end of a command", "exec", e.ID, "err", err)
	}
}

// failRunningExecs ends the commands left running where the where clause
// matches: their results can no longer reach anyone.
func (s *Service) failRunningExecs(ctx context.Context, why string, where ...lifecycle.Set) error {
	return s.o.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		_, err := ExecLifecycle.MoveAll(ctx, tx, ExecRunning, ExecFailed, why, where,
			[]lifecycle.Set{{Column: "detail", Value: why}, {Column: "finished_at", Value: storage.Now()}})
		return err
	})
}

func envName(k string) bool {
	if k == "" || len(k) > 128 || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (s *Service) execOf(ctx context.Context, inst instance.Row, id string) (execRow, error) {
	var e execRow
	err := s.o.DB.GetContext(ctx, &e, `SELECT `+execColumns+` FROM execs WHERE id = ? AND instance_id = ? AND org_id = ?`, id, inst.ID, inst.OrgID)
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrExecNotFound
	}
	return e, err
}

// ExecOutput returns a piece of a command's full output.
func (s *Service) ExecOutput(ctx context.Context, inst instance.Row, in methods.GetExecOutputInput) (methods.GetExecOutputOutput, error) {
	stream := in.Stream
	if stream == "" {
		stream = "stdout"
	}
	if stream != "stdout" && stream != "stderr" {
		return methods.GetExecOutputOutput{}, rpc.InvalidField("stream", "enum", "The stream must be \"stdout\" or \"stderr\".")
	}
	var offset, limit int64 = 0, maxOutputChunk
	if in.Offset != nil {
		if *in.Offset < 0 {
			return methods.GetExecOutputOutput{}, rpc.InvalidField("offset", "range", "The offset must not be negative.")
		}
		offset = *in.Offset
	}
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > maxOutputChunk {
			return methods.GetExecOutputOutput{}, rpc.InvalidField("limit", "range", "The limit must be between 1 and %d bytes.", maxOutputChunk)
		}
		limit = *in.Limit
	}
	e, err := s.execOf(ctx, inst, in.ExecID)
	if err != nil {
		return methods.GetExecOutputOutput{}, err
	}
	data, total, err := s.o.Fleet.Node(e.NodeID).ExecOutput(ctx, e.SandboxID, e.ID, stream, offset, limit)
	if fleet.CodeOf(err) != "" {
		return methods.GetExecOutputOutput{}, errNoOutput
	}
	if err != nil {
		return methods.GetExecOutputOutput{}, err
	}
	return methods.GetExecOutputOutput{ExecID: e.ID, Stream: stream, Data: string(data), Offset: offset,
		TotalSize: total, EOF: offset+int64(len(data)) >= total}, nil
}

// ListExecs pages the instance's commands, newest first.
func (s *Service) ListExecs(ctx context.Context, inst instance.Row, in methods.ListExecsInput) (methods.ListExecsOutput, error) {
	limit, offset, err := rpc.Page(in.Limit, in.Offset)
	if err != nil {
		return methods.ListExecsOutput{}, err
	}
	out := methods.ListExecsOutput{Execs: []methods.ExecSummary{}}
	if err := s.o.DB.GetContext(ctx, &out.Total, `SELECT COUNT(*) FROM execs WHERE instance_id = ? AND org_id = ?`, inst.ID, inst.OrgID); err != nil {
		return out, err
	}
	var rows []execRow
	if err := s.o.DB.SelectContext(ctx, &rows, `SELECT `+execColumns+` FROM execs WHERE instance_id = ? AND org_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, inst.ID, inst.OrgID, limit, offset); err != nil {
		return out, err
	}
	for _, e := range rows {
		w := methods.ExecSummary{ExecID: e.ID, SandboxID: e.SandboxID, Command: e.Command, Status: string(e.Status), Detail: e.Detail,
			StartedAt: storage.FormatTime(e.CreatedAt)}
		if e.ExitCode.Valid {
			c := int(e.ExitCode.Int64)
			w.ExitCode = &c
		}
		if e.FinishedAt.Valid {
			f := storage.FormatTime(e.FinishedAt.Int64)
			w.FinishedAt = &f
		}
		if e.DurationMs.Valid {
			d := e.DurationMs.Int64
			w.DurationMs = &d
		}
		out.Execs = append(out.Execs, w)
	}
	return out, nil
}

// CancelExec kills a running command's process group.
func (s *Service) CancelExec(ctx context.Context, inst instance.Row, id string) (methods.CancelExecOutput, error) {
	e, err := s.execOf(ctx, inst, id)
	if err != nil {
		return methods.CancelExecOutput{}, err
	}
	if e.Status != ExecRunning {
		return methods.CancelExecOutput{OK: true, Cancelled: false}, nil
	}
	cancelled, err := s.o.Fleet.Node(e.NodeID).CancelExec(ctx, e.SandboxID, e.ID)
	if fleet.CodeOf(err) != "" {
		// The node no longer has it running: nothing to cancel.
		return methods.CancelExecOutput{OK: true}, nil
	}
	if err != nil {
		return methods.CancelExecOutput{}, err
	}
	return methods.CancelExecOutput{OK: true, Cancelled: cancelled}, nil
}
