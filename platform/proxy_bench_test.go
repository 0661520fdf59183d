package platform_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/roosthq/roost/internal/testutil"
	"github.com/roosthq/roost/internal/testutil/rpctest"
	"github.com/roosthq/roost/internal/testutil/sandboxtest"
	"github.com/roosthq/roost/internal/testutil/sessiontest"
	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/platform"
)

// What BenchmarkSessionProxy runs; see BENCHMARKS.md.
const (
	proxyBenchRounds    = 5
	proxyBenchWSMsgs    = 2000 // round trips per websocket round
	proxyBenchWSWarmup  = 300
	proxyBenchWSSize    = 64 // bytes per message
	proxyBenchClients   = 16
	proxyBenchHTTPRound = 3 * time.Second
	proxyBenchHTTPWarm  = time.Second
)

// BenchmarkSessionProxy measures what the platform's proxies cost: a
// websocket message's round trip through the session proxy (client →
// platform → node tunnel → supervisor → agent and back) beside a websocket
// straight to the same agent, and HTTP requests per second through the
// service proxy (/s/{code}/) beside requests straight to the same port.
// The sandbox uses a template with network "full", so that the agent and
// its page listen on the host's loopback and can be reached directly.
// Rounds alternate between the two paths so that the machine's noise falls
// on both.
func BenchmarkSessionProxy(b *testing.B) {
	agent := "127.0.0.1:7700" // the sandbox's ROOST_AGENT_ADDR, on the host's network
	probe, err := net.Listen("tcp", agent)
	if err != nil {
		b.Fatalf("%s is taken on this machine; the direct path needs it: %v", agent, err)
	}
	probe.Close()
	pagePort := testutil.FreePort(b)

	templates := b.TempDir()
	if err := os.WriteFile(filepath.Join(templates, "full.json"), []byte(`{"slug":"full","network":"full"}`), 0o644); err != nil {
		b.Fatal(err)
	}
	sb := sandboxtest.Start(b, platform.Config{TemplatesDir: templates})
	e := &sessiontest.Env{Env: sb, OrgID: sb.Srv.AdminKeyRecord(b).OrgID}
	m := testutil.AgentManifest("1.0.0", "-page", strconv.Itoa(pagePort))
	m.Services[0].Port = pagePort
	e.PublishManifest(b, "bench", m)
	i := e.Create(b, methods.CreateInstanceInput{TemplateSlug: "full", BundleSlug: "bench", Name: "bench",
		AutoCreateSession: &methods.AutoCreateSession{PresetID: "chat", Blocking: true}})
	if i.Created.Status != methods.InstanceReady {
		b.Fatalf("instances.create = %+v, want ready", i.Created)
	}
	ctx := e.Ctx

	b.Run("websocket", func(b *testing.B) {
		urls := map[string]string{
			"direct": "ws://" + agent + "/sessions/" + i.Created.SessionID + "/ws",
			"proxy":  e.SessionWS(i.ID, i.Created.SessionID, i.Created.WSToken),
		}
		conns := map[string]*websocket.Conn{}
		for name, u := range urls {
			c := sessiontest.Dial(b, ctx, u, nil)
			conns[name] = c
			if _, err := wsRoundTrips(ctx, c, proxyBenchWSWarmup); err != nil {
				b.Fatalf("warm-up of %s: %v", name, err)
			}
		}
		b.ResetTimer()
		lats := map[string][]time.Duration{}
		for round := range proxyBenchRounds {
			for _, name := range benchOrder(round) {
				l, err := wsRoundTrips(ctx, conns[name], proxyBenchWSMsgs)
				if err != nil {
					b.Fatalf("round %d, %s: %v", round, name, err)
				}
				lats[name] = append(lats[name], l...)
			}
		}
		b.StopTimer()
		d, p := percentiles(lats["direct"]), percentiles(lats["proxy"])
		b.ReportMetric(us(d.p50), "direct_p50_us")
		b.ReportMetric(us(d.p99), "direct_p99_us")
		b.ReportMetric(us(p.p50), "proxy_p50_us")
		b.ReportMetric(us(p.p99), "proxy_p99_us")
		b.ReportMetric(float64(p.p50)/float64(d.p50), "p50_ratio")
		b.ReportMetric(float64(p.p99)/float64(d.p99), "p99_ratio")
		var t strings.Builder
		fmt.Fprintf(&t, "websocket round trip, %d-byte text messages, one at a time, %d rounds × %d per path\n",
			proxyBenchWSSize, proxyBenchRounds, proxyBenchWSMsgs)
		fmt.Fprintf(&t, "%-7s %10s %10s %10s\n", "", "p50 µs", "p99 µs", "messages")
		fmt.Fprintf(&t, "%-7s %10.0f %10.0f %10d\n", "direct", us(d.p50), us(d.p99), d.n)
		fmt.Fprintf(&t, "%-7s %10.0f %10.0f %10d\n", "proxy", us(p.p50), us(p.p99), p.n)
		fmt.Fprintf(&t, "ratio proxy/direct: p50 %.2f, p99 %.2f\n", float64(p.p50)/float64(d.p50), float64(p.p99)/float64(d.p99))
		b.Log("\n" + t.String())
	})

	b.Run("service_http", func(b *testing.B) {
		proxied := i.ServiceURL(b, i.Created.SessionID, "web")
		targets := map[string]httpTarget{
			"direct": {url: fmt.Sprintf("http://127.0.0.1:%d/", pagePort), want: "hello from"},
			"proxy":  {url: proxied, header: rpctest.Bearer(i.Token), want: "hello from"},
		}
		hc := &http.Client{Transport: &http.Transport{MaxIdleConns: proxyBenchClients * 2,
			MaxIdleConnsPerHost: proxyBenchClients, IdleConnTimeout: time.Minute}}
		b.Cleanup(hc.CloseIdleConnections)
		for _, name := range []string{"direct", "proxy"} {
			if _, err := driveGets(ctx, hc, targets[name], proxyBenchHTTPWarm); err != nil {
				b.Fatalf("warm-up of %s: %v", name, err)
			}
		}
		b.ResetTimer()
		results := map[string][]getRound{}
		for round := range proxyBenchRounds {
			for _, name := range benchOrder(round) {
				r, err := driveGets(ctx, hc, targets[name], proxyBenchHTTPRound)
				if err != nil {
					b.Fatalf("round %d, %s: %v", round, name, err)
				}
				results[name] = append(results[name], r)
			}
		}
		b.StopTimer()
		type row struct {
			rps    float64
			lat    latencies
			rounds []float64
		}
		sum := func(rs []getRound) row {
			var out row
			var all []time.Duration
			for _, r := range rs {
				out.rounds = append(out.rounds, r.rps)
				all = append(all, r.lats...)
			}
			sorted := slices.Clone(out.rounds)
			slices.Sort(sorted)
			out.rps = sorted[len(sorted)/2]
			out.lat = percentiles(all)
			return out
		}
		d, p := sum(results["direct"]), sum(results["proxy"])
		b.ReportMetric(d.rps, "direct_rps")
		b.ReportMetric(p.rps, "proxy_rps")
		b.ReportMetric(p.rps/d.rps, "rps_ratio")
		b.ReportMetric(us(d.lat.p50), "direct_p50_us")
		b.ReportMetric(us(p.lat.p50), "proxy_p50_us")
		b.ReportMetric(us(d.lat.p99), "direct_p99_us")
		b.ReportMetric(us(p.lat.p99), "proxy_p99_us")
		var t strings.Builder
		fmt.Fprintf(&t, "GET of the page, %d keep-alive clients, %d rounds × %s per path (rps: median of rounds; latency over all requests)\n",
			proxyBenchClients, proxyBenchRounds, proxyBenchHTTPRound)
		fmt.Fprintf(&t, "%-7s %10s %10s %10s %10s   per-round rps\n", "", "rps", "p50 µs", "p99 µs", "requests")
		for _, r := range []struct {
			name string
			row
		}{{"direct", d}, {"proxy", p}} {
			var per []string
			for _, x := range r.rounds {
				per = append(per, fmt.Sprintf("%.0f", x))
			}
			fmt.Fprintf(&t, "%-7s %10.0f %10.0f %10.0f %10d   %s\n", r.name, r.rps, us(r.lat.p50), us(r.lat.p99), r.lat.n, strings.Join(per, " "))
		}
		fmt.Fprintf(&t, "ratio proxy/direct: rps %.3f\n", p.rps/d.rps)
		b.Log("\n" + t.String())
	})
}

// benchOrder alternates which path goes first in a round.
func benchOrder(round int) []string {
	if round%2 == 1 {
		return []string{"proxy", "direct"}
	}
	return []string{"direct", "proxy"}
}

// wsRoundTrips sends n messages one at a time, each after the last echo,
// and returns each round trip's time.
func wsRoundTrips(ctx context.Context, c *websocket.Conn, n int) ([]time.Duration, error) {
	msg := []byte(strings.Repeat("x", proxyBenchWSSize))
	want := len("echo: ") + len(msg)
	out := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			return nil, err
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
		if len(got) != want {
			return nil, fmt.Errorf("echo of %d bytes, want %d", len(got), want)
		}
	}
	return out, nil
}

type latencies struct {
	p50, p99 time.Duration
	n        int
}

func percentiles(ds []time.Duration) latencies {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return latencies{}
	}
	return latencies{p50: s[len(s)*50/100], p99: s[min(len(s)-1, len(s)*99/100)], n: len(s)}
}

type httpTarget struct {
	url    string
	header http.Header
	want   string
}

type getRound struct {
	rps  float64
	lats []time.Duration
}

// driveGets runs proxyBenchClients clients against t for d, each sending
// its next GET as soon as the last reply is read.
func driveGets(ctx context.Context, hc *http.Client, t httpTarget, d time.Duration) (getRound, error) {
	all, elapsed, err := closedLoop(ctx, proxyBenchClients, d, func(ctx context.Context) error { return getOnce(ctx, hc, t) })
	if err != nil {
		return getRound{}, err
	}
	return getRound{rps: float64(len(all)) / elapsed.Seconds(), lats: all}, nil
}

func getOnce(ctx context.Context, hc *http.Client, t httpTarget) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return err
	}
	for k, vs := range t.header {
		req.Header[k] = vs
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
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), t.want) {
		return fmt.Errorf("%s answered %d: %.300s", t.url, resp.StatusCode, data)
	}
	return nil
}
