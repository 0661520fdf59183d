// Package audit keeps a record of every RPC call (who, what, on which
// instance, with what outcome, how long) in the database. Records are queued
// and written in batches by one goroutine, so that no request waits on a
// write.
package audit

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roosthq/roost/rpc"
	"github.com/roosthq/roost/storage"
)

// Options configures a Log.
type Options struct {
	DB *storage.DB
	// RequestID extracts the request id from a call's context.
	RequestID func(context.Context) string
	// Queue is how many records may wait to be written. Default 8192.
	Queue int
	// Batch is the most records written in one transaction. Default 512.
	Batch int
	// Interval is the longest a record waits before its batch is written.
	// Default 200 ms.
	Interval time.Duration
	Logger   *slog.Logger
}

// Log is an rpc.Observer that writes audit records in batches.
type Log struct {
	o       Options
	ch      chan row
	done    chan struct{}
	once    sync.Once
	dropped atomic.Int64
	written atomic.Int64
}

type row struct {
	ID         string `db:"id"`
	At         int64  `db:"at"`
	Endpoint   string `db:"endpoint"`
	OrgID      string `db:"org_id"`
	CallerKind string `db:"caller_kind"`
	CallerID   string `db:"caller_id"`
	Method     string `db:"method"`
	InstanceID string `db:"instance_id"`
	Outcome    string `db:"outcome"`
	DurationUS int64  `db:"duration_us"`
	RequestID  string `db:"request_id"`
}

// New starts a Log's writer; Close stops it after writing what is queued.
func New(o Options) *Log {
	if o.Queue <= 0 {
		o.Queue = 8192
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RequestID == nil {
		o.RequestID = func(context.Context) string { return "" }
	}
	l := &Log{o: o, ch: make(chan row, o.Queue), done: make(chan struct{})}
	go l.run()
	return l
}

// Observe queues a record; when the queue is full the record is dropped and
// counted, rather than slowing the call.
func (l *Log) Observe(ctx context.Context, r rpc.Record) {
	rec := row{
		ID: storage.NewID("aud"), At: r.Start.UnixMilli(), Endpoint: r.Endpoint,
		OrgID: r.Caller.OrgID, CallerKind: r.Caller.Kind, CallerID: r.Caller.ID,
		Method: r.Method, InstanceID: r.InstanceID, Outcome: r.Outcome,
		DurationUS: r.Duration.Microseconds(), RequestID: l.o.RequestID(ctx),
	}
	select {
	case l.ch <- rec:
	default:
		if l.dropped.Add(1)%1000 == 1 {
			l.o.Logger.Warn("audit queue full; records dropped", "dropped", l.dropped.Load())
		}
	}
}

// Dropped is how many records were dropped because the queue was full.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Written is how many records were written.
func (l *Log) Written() int64 { return l.written.Load() }

// Close writes what is queued and stops the writer, or gives up when ctx ends.
func (l *Log) Close(ctx context.Context) error {
	l.once.Do(func() { close(l.ch) })
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Log) run() {
	defer close(l.done)
	batch := make([]row, 0, l.o.Batch)
	tick := time.NewTicker(l.o.Interval)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-l.ch:
			if !ok {
				l.flush(batch)
				return
			}
			batch = append(batch, r)
			if len(batch) >= l.o.Batch {
				l.flush(batch)
				batch = batch[:0]
			}
		case <-tick.C:
			if len(batch) > 0 {
				l.flush(batch)
				batch = batch[:0]
			}
		}
	}
}

// Schema creates the audit table in a database of its own, so that
// writing the log never contends with the platform's own writes.
func Schema(ctx context.Context, db *storage.DB) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS audit_log (
		id          TEXT PRIMARY KEY,
		at          BIGINT NOT NULL,
		endpoint    TEXT NOT NULL,
		org_id      TEXT NOT NULL DEFAULT '',
		caller_kind TEXT NOT NULL DEFAULT '',
		caller_id   TEXT NOT NULL DEFAULT '',
		method      TEXT NOT NULL DEFAULT '',
		instance_id TEXT NOT NULL DEFAULT '',
		outcome     TEXT NOT NULL,
		duration_us BIGINT NOT NULL,
		request_id  TEXT NOT NULL DEFAULT ''
	)`)
	if err == nil {
		_, err = db.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS audit_log_org_at ON audit_log (org_id, at)`)
	}
	return err
}

// rowsPerInsert keeps each multi-row INSERT well under SQLite's limit of
// bound parameters.
const rowsPerInsert = 64

const insertPrefix = `INSERT INTO audit_log (id, at, endpoint, org_id, caller_kind, caller_id, method, instance_id, outcome, duration_us, request_id) VALUES `

// flush writes a batch in one transaction, many rows per statement.
func (l *Log) flush(batch []row) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := l.o.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		for start := 0; start < len(batch); start += rowsPerInsert {
			part := batch[start:min(start+rowsPerInsert, len(batch))]
			var q strings.Builder
			q.WriteString(insertPrefix)
			args := make([]any, 0, len(part)*11)
			for i, r := range part {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, r.ID, r.At, r.Endpoint, r.OrgID, r.CallerKind, r.CallerID, r.Method, r.InstanceID,
					r.Outcome, r.DurationUS, r.RequestID)
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.o.Logger.Error("audit batch not written", "records", len(batch), "err", err)
		return
	}
	l.written.Add(int64(len(batch)))
}
