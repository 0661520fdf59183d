package platform_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/roosthq/roost/instance"
	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
	"github.com/roosthq/roost/storage"
)

// What BenchmarkInstancesGet runs; see BENCHMARKS.md.
const (
	benchClients = 64
	benchRounds  = 5
	benchRound   = 3 * time.Second
	benchWarmup  = time.Second
)

// BenchmarkInstancesGet measures what the platform's stack costs on a read:
// instances.get through the full server (request id, API-key auth, RPC
// envelope and input decoding, the instance service, metrics and audit) set
// against a bare echo handler in the same process that reads the same row
// with the same SQL from the same SQLite file and writes it as JSON. Both
// are driven by the same 64 concurrent keep-alive clients, in alternating
// rounds so that noise of the machine falls on both.
func BenchmarkInstancesGet(b *testing.B) {
	srv := testutil.StartServer(b, platform.Config{})
	ctx := testutil.Context(b, testutil.Long)
	created, err := srv.Admin().CreateInstance(ctx, methods.CreateInstanceInput{TemplateSlug: "default", Name: "bench"})
	if err != nil {
		b.Fatalf("create instance: %v", err)
	}
	id := created.InstanceID
	keys, err := srv.Keys().List(ctx)
	if err != nil || len(keys) == 0 {
		b.Fatalf("list keys: %v (%d keys)", err, len(keys))
	}
	orgID := keys[0].OrgID

	bareURL := startBare(b, platform.DBPath(srv.DataDir), orgID)

	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        benchClients,
		MaxIdleConnsPerHost: benchClients,
		IdleConnTimeout:     time.Minute,
	}}
	b.Cleanup(hc.CloseIdleConnections)
	body := []byte(fmt.Sprintf(`{"method":%q,"input":{"instanceId":%q}}`, methods.InstancesGet, id))
	targets := map[string]target{
		"full": {url: srv.URL + "/api/v1/rpc", key: srv.AdminKey, body: body, want: `"ok":true`},
		"bare": {url: bareURL, body: body, want: id},
	}

	// Warm both: connections, caches, the page cache of the database file.
	for _, name := range []string{"bare", "full"} {
		if _, err := drive(ctx, hc, targets[name], benchWarmup); err != nil {
			b.Fatalf("warm-up of %s: %v", name, err)
		}
	}

	b.ResetTimer()
	var results = map[string][]roundResult{}
	for round := 0; round < benchRounds; round++ {
		order := []string{"bare", "full"}
		if round%2 == 1 {
			order = []string{"full", "bare"}
		}
		for _, name := range order {
			res, err := drive(ctx, hc, targets[name], benchRound)
			if err != nil {
				b.Fatalf("round %d, %s: %v", round, name, err)
			}
			results[name] = append(results[name], res)
		}
	}
	b.StopTimer()

	full, bare := summarize(results["full"]), summarize(results["bare"])
	ratio := full.rps / bare.rps
	b.ReportMetric(full.rps, "full_rps")
	b.ReportMetric(bare.rps, "bare_rps")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(us(full.p50), "full_p50_us")
	b.ReportMetric(us(full.p99), "full_p99_us")
	b.ReportMetric(us(bare.p50), "bare_p50_us")
	b.ReportMetric(us(bare.p99), "bare_p99_us")
	// Each round ran bare and full back to back, so the ratio within a round
	// cancels slow drifts of the machine's load.
	var pairs []float64
	for i := range results["full"] {
		pairs = append(pairs, results["full"][i].rps/results["bare"][i].rps)
	}
	slices.Sort(pairs)
	pairRatio := pairs[len(pairs)/2]
	b.ReportMetric(pairRatio, "pair_ratio")
	cpuRatio := float64(bare.cpuPerReq) / float64(full.cpuPerReq)
	b.ReportMetric(us(full.cpuPerReq), "full_cpu_us/req")
	b.ReportMetric(us(bare.cpuPerReq), "bare_cpu_us/req")
	b.ReportMetric(cpuRatio, "cpu_ratio")

	var t strings.Builder
	fmt.Fprintf(&t, "instances.get, %d clients, %d rounds × %s each (medians of rounds; latency over all requests)\n",
		benchClients, benchRounds, benchRound)
	fmt.Fprintf(&t, "%-5s %10s %10s %10s %12s %10s   per-round rps\n", "", "rps", "p50 µs", "p99 µs", "CPU µs/req", "requests")
	for _, row := range []struct {
		name string
		s    summary
		rs   []roundResult
	}{{"full", full, results["full"]}, {"bare", bare, results["bare"]}} {
		var per []string
		for _, r := range row.rs {
			per = append(per, fmt.Sprintf("%.0f", r.rps))
		}
		fmt.Fprintf(&t, "%-5s %10.0f %10.0f %10.0f %12.1f %10d   %s\n", row.name, row.s.rps, us(row.s.p50), us(row.s.p99), us(row.s.cpuPerReq), row.s.n, strings.Join(per, " "))
	}
	fmt.Fprintf(&t, "ratio full/bare = %.3f (target ≥ 0.85); median of per-round ratios = %.3f; by CPU per request bare/full = %.3f\n",
		ratio, pairRatio, cpuRatio)
	b.Log("\n" + t.String())
}

// startBare serves POST / on another loopback port with a plain echo handler
// that decodes the same request body, runs instance.GetQuery on its own sqlx
// pool over the same SQLite file, and writes the row as JSON.
func startBare(b *testing.B, dbPath, orgID string) string {
	b.Helper()
	ctx := testutil.Context(b, testutil.Short)
	db, err := storage.OpenSQLite(ctx, dbPath)
	if err != nil {
		b.Fatalf("open %s: %v", dbPath, err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/", func(c echo.Context) error {
		var req struct {
			Method string `json:"method"`
			Input  struct {
				InstanceID string `json:"instanceId"`
			} `json:"input"`
		}
		if err := json.NewDecoder(c.Request().Body).Decode(&req); err != nil {
			return c.JSON(http.StatusBadRequest, map[string]string{"error": err.Error()})
		}
		var row instance.Row
		err := db.GetContext(c.Request().Context(), &row, instance.GetQuery, req.Input.InstanceID, orgID)
		if errors.Is(err, sql.ErrNoRows) {
			return c.JSON(http.StatusNotFound, map[string]string{"error": "not found"})
		}
		if err != nil {
			return c.JSON(http.StatusInternalServerError, map[string]string{"error": err.Error()})
		}
		return c.JSON(http.StatusOK, row)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), testutil.Short)
		defer cancel()
		_ = hs.Shutdown(sctx)
		db.Close()
	})
	return "http://" + ln.Addr().String() + "/"
}

type target struct {
	url, key string
	body     []byte
	want     string // a substring every successful reply holds
}

type roundResult struct {
	rps  float64
	lats []time.Duration
	// cpuPerReq is the process's CPU time (user+system, server and clients
	// together) per request: unlike rps, it holds still when other
	// processes take the machine's cores.
	cpuPerReq time.Duration
}

// drive runs benchClients clients against t for d, each sending its next
// request as soon as the last reply is read.
func drive(ctx context.Context, hc *http.Client, t target, d time.Duration) (roundResult, error) {
	cpu0 := processCPU()
	all, elapsed, err := closedLoop(ctx, benchClients, d, func(ctx context.Context) error { return once(ctx, hc, t) })
	if err != nil {
		return roundResult{}, err
	}
	cpu := processCPU() - cpu0
	return roundResult{rps: float64(len(all)) / elapsed.Seconds(), lats: all, cpuPerReq: cpu / time.Duration(len(all))}, nil
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func once(ctx context.Context, hc *http.Client, t target) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if t.key != "" {
		req.Header.Set("Authorization", "Bearer "+t.key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(t.want)) {
		return fmt.Errorf("%s answered %d: %.300s", t.url, resp.StatusCode, data)
	}
	return nil
}

type summary struct {
	rps       float64
	p50, p99  time.Duration
	n         int
	cpuPerReq time.Duration
}

func summarize(rs []roundResult) summary {
	var s summary
	var rps []float64
	var lats, cpu []time.Duration
	for _, r := range rs {
		rps = append(rps, r.rps)
		lats = append(lats, r.lats...)
		cpu = append(cpu, r.cpuPerReq)
	}
	slices.Sort(rps)
	slices.Sort(lats)
	slices.Sort(cpu)
	s.n = len(lats)
	if len(rps) > 0 {
		s.rps = rps[len(rps)/2]
		s.cpuPerReq = cpu[len(cpu)/2]
	}
	if len(lats) > 0 {
		s.p50 = lats[len(lats)*50/100]
		s.p99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return s
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
