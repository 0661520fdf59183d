package platform_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/roosthq/roost/clients/go"
	"github.com/roosthq/roost/internal/testutil"
)

// What BenchmarkUpload runs; see BENCHMARKS.md.
const (
	uploadSize     = 1 << 30  // bytes per upload
	uploadRuns     = 3        // measurements of each path, alternating
	uploadPartSize = 16 << 20 // the S3 store's part size, used by the raw S3 path too
	uploadSampling = 20 * time.Millisecond
)

// BenchmarkUpload measures POST /api/v1/files/upload with a 1 GiB file,
// streamed from a generator by the Go client, into a `roost serve` run as
// its own process (so that its memory can be read from /proc), once per
// blob store. Each upload is set against the raw path to the same storage
// with the same generator in the same run: a plain copy into a file on the
// same filesystem with fsync for fs, minio-go's PutObject straight to the
// same MinIO for s3 (size -1 with the store's part size, as the store
// sends it; also with the size known, for information). For fs it also
// times the raw copy with SHA-256 computed on the way, the floor under an
// upload, which must hash every byte. The paths alternate, uploadRuns
// times, and medians are reported. Every upload gets a fresh server, so
// that memory the runtime kept from an earlier upload cannot hide the
// growth of the next.
func BenchmarkUpload(b *testing.B) {
	bin := buildRoostBench(b)
	want := uploadDigest()

	b.Run("fs", func(b *testing.B) {
		root := b.TempDir()
		var raw, rawSHA, full []uploadResult
		for run := 0; run < uploadRuns; run++ {
			rawRun := func() {
				raw = append(raw, rawFileCopy(b, filepath.Join(root, "raw.bin"), false))
				rawSHA = append(rawSHA, rawFileCopy(b, filepath.Join(root, "raw.bin"), true))
			}
			fullRun := func() {
				data := filepath.Join(root, fmt.Sprintf("data-%d", run))
				full = append(full, uploadThroughServer(b, bin, want, "--data", data))
				if err := os.RemoveAll(data); err != nil {
					b.Fatal(err)
				}
			}
			alternateUploads(run, rawRun, fullRun)
		}
		reportUploads(b, "fs", []uploadRow{{"raw copy, write+fsync", "", raw}, {"upload", "", full},
			{"raw copy + SHA-256", "raw_sha_MBps", rawSHA}})
	})

	b.Run("s3", func(b *testing.B) {
		m := testutil.StartMinIO(b)
		mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
		if err != nil {
			b.Fatal(err)
		}
		if err := mc.MakeBucket(testutil.Context(b, testutil.Medium), "raw", minio.MakeBucketOptions{}); err != nil {
			b.Fatalf("make bucket: %v", err)
		}
		var raw, rawKnown, full []uploadResult
		for run := 0; run < uploadRuns; run++ {
			rawRun := func() {
				raw = append(raw, rawPutObject(b, mc, -1))
				rawKnown = append(rawKnown, rawPutObject(b, mc, uploadSize))
			}
			fullRun := func() {
				full = append(full, uploadThroughServer(b, bin, want,
					"--data", filepath.Join(b.TempDir(), "data"),
					"--s3-endpoint", m.Endpoint, "--s3-bucket", "roost", "--s3-insecure",
					"--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey))
			}
			alternateUploads(run, rawRun, fullRun)
		}
		reportUploads(b, "s3", []uploadRow{{"raw PutObject, size -1", "", raw}, {"upload", "", full},
			{"raw PutObject, known size", "raw_known_MBps", rawKnown}})
	})
}

// alternateUploads runs the raw path first on even runs and last on odd ones, so
// that a drift of the machine falls on both.
func alternateUploads(run int, raw, full func()) {
	if run%2 == 0 {
		raw()
		full()
	} else {
		full()
		raw()
	}
}

// uploadResult is one measured transfer.
type uploadResult struct {
	elapsed time.Duration
	// Of the server, for uploads through it: VmRSS just before, the
	// highest VmRSS sampled during, and VmHWM after (reset to the current
	// RSS just before, when the kernel allows).
	before, peak, hwm int64
	hwmReset          bool
	// cpu is the server's CPU time (user+system) during the upload.
	cpu time.Duration
}

func (r uploadResult) mbps() float64 { return float64(uploadSize) / 1e6 / r.elapsed.Seconds() }

// growth is max(VmRSS during) − VmRSS before, in MiB.
func (r uploadResult) growth() float64 { return float64(r.peak-r.before) / (1 << 20) }

// hwmGrowth is VmHWM − VmRSS before, in MiB: the exact peak when the HWM
// was reset just before the upload.
func (r uploadResult) hwmGrowth() float64 { return float64(r.hwm-r.before) / (1 << 20) }

// uploadRow is a path's results, reported as metric (after the store's
// name) when set.
type uploadRow struct {
	name, metric string
	results      []uploadResult
}

func uploadMedian(rs []uploadResult, f func(uploadResult) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// reportUploads reports rows[0] as the raw path and rows[1] as the upload, and
// prints every row.
func reportUploads(b *testing.B, store string, rows []uploadRow) {
	raw, full := rows[0].results, rows[1].results
	rawMBps, fullMBps := uploadMedian(raw, uploadResult.mbps), uploadMedian(full, uploadResult.mbps)
	growth := uploadMedian(full, uploadResult.growth)
	b.ReportMetric(fullMBps, store+"_MBps")
	b.ReportMetric(rawMBps, store+"_raw_MBps")
	b.ReportMetric(fullMBps/rawMBps, store+"_ratio")
	b.ReportMetric(growth, store+"_rss_growth_MiB")
	b.ReportMetric(uploadMedian(full, uploadResult.hwmGrowth), store+"_hwm_growth_MiB")
	for _, row := range rows[2:] {
		b.ReportMetric(uploadMedian(row.results, uploadResult.mbps), store+"_"+row.metric)
	}

	var t strings.Builder
	fmt.Fprintf(&t, "%s store, %d MiB per transfer, %d runs alternating (MB = 10^6 bytes; medians)\n",
		store, uploadSize>>20, uploadRuns)
	fmt.Fprintf(&t, "%-26s %6s %6s  %-16s %-14s %s\n", "path", "MB/s", "ratio", "per run MB/s", "server CPU s", "server RSS growth MiB, sampled/HWM")
	for _, row := range rows {
		var per, cpu, mem []string
		for _, r := range row.results {
			per = append(per, fmt.Sprintf("%.0f", r.mbps()))
			if r.before > 0 {
				cpu = append(cpu, fmt.Sprintf("%.2f", r.cpu.Seconds()))
				hwm := fmt.Sprintf("%.1f", r.hwmGrowth())
				if !r.hwmReset {
					hwm = "(since start)"
				}
				mem = append(mem, fmt.Sprintf("%.1f/%s", r.growth(), hwm))
			}
		}
		mbps := uploadMedian(row.results, uploadResult.mbps)
		fmt.Fprintf(&t, "%-26s %6.0f %6.3f  %-16s %-14s %s\n", row.name, mbps, mbps/rawMBps,
			strings.Join(per, " "), strings.Join(cpu, " "), strings.Join(mem, " "))
	}
	fmt.Fprintf(&t, "upload/raw = %.3f (target ≥ 0.8); server RSS growth median %.1f MiB (target < 64)\n",
		fullMBps/rawMBps, growth)
	b.Log("\n" + t.String())
}

// uploadPattern is what the generator repeats: random, so that nothing on
// the way can compress it, and of a length that is not a power of two, so
// that its repeats do not line up with buffers or parts.
var uploadPattern = sync.OnceValue(func() []byte {
	p := make([]byte, 1<<20+4093)
	r := rand.NewChaCha8([32]byte{'r', 'o', 'o', 's', 't'})
	_, _ = r.Read(p)
	return p
})

// uploadSource generates the uploadSize bytes of a transfer as they are
// read, holding only the pattern.
type uploadSource struct {
	left int64
	pos  int
}

func newUploadSource() *uploadSource { return &uploadSource{left: uploadSize} }

func (s *uploadSource) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	pat := uploadPattern()
	n := 0
	for n < len(p) {
		c := copy(p[n:], pat[s.pos:])
		n += c
		s.pos = (s.pos + c) % len(pat)
	}
	s.left -= int64(n)
	return n, nil
}

// uploadDigest is the SHA-256 of a transfer, to check that what was stored
// is what was sent.
func uploadDigest() string {
	h := sha256.New()
	_, _ = io.Copy(h, newUploadSource())
	return hex.EncodeToString(h.Sum(nil))
}

// settleDisk commits the filesystem's journal before a transfer. The disk
// is mounted with online discard: the 1 GiB that the previous transfer
// deleted is discarded at the next journal commit, and a transfer started
// before that commit wrote at half speed or less (measured: 0.4 s to write
// 1 GiB after a sync, 1.0-1.4 s without). Whichever path came right after
// a delete paid for it; after a sync, neither does.
func settleDisk() { syscall.Sync() }

// rawFileCopy copies a transfer into a new file at path with io.Copy, then
// fsync, and removes it. With withSHA it also hashes what it reads, as the
// upload must: not the raw path, but the floor under the upload's.
func rawFileCopy(b *testing.B, path string, withSHA bool) uploadResult {
	b.Helper()
	settleDisk()
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	var src io.Reader = newUploadSource()
	h := sha256.New()
	if withSHA {
		src = io.TeeReader(src, h)
	}
	n, err := io.Copy(f, src)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	elapsed := time.Since(start)
	if err != nil || n != uploadSize {
		b.Fatalf("raw copy: %d bytes, %v", n, err)
	}
	if err := os.Remove(path); err != nil {
		b.Fatal(err)
	}
	return uploadResult{elapsed: elapsed}
}

// rawPutObject sends a transfer to MinIO with minio-go as the S3 store
// does (size -1: unknown, the store's case), or with its size, and removes
// the object.
func rawPutObject(b *testing.B, mc *minio.Client, size int64) uploadResult {
	b.Helper()
	ctx := testutil.Context(b, testutil.Long)
	settleDisk()
	start := time.Now()
	info, err := mc.PutObject(ctx, "raw", "raw.bin", newUploadSource(), size, minio.PutObjectOptions{
		PartSize: uploadPartSize, ContentType: "application/octet-stream"})
	elapsed := time.Since(start)
	if err != nil || info.Size != uploadSize {
		b.Fatalf("raw PutObject (size %d): %d bytes, %v", size, info.Size, err)
	}
	if err := mc.RemoveObject(ctx, "raw", "raw.bin", minio.RemoveObjectOptions{}); err != nil {
		b.Fatal(err)
	}
	return uploadResult{elapsed: elapsed}
}

// uploadThroughServer starts `roost serve` with args, uploads a transfer
// with the Go client while sampling the server's memory, checks what was
// stored, deletes it and stops the server.
func uploadThroughServer(b *testing.B, bin, wantSHA string, args ...string) uploadResult {
	b.Helper()
	srv := testutil.StartRoost(b, bin, nil, true, append([]string{"--listen", "127.0.0.1:0", "--log-level", "warn"}, args...)...)
	defer srv.Stop(b)
	ctx := testutil.Context(b, testutil.Long)
	c := client.New(srv.URL, srv.Key, nil)

	settleDisk()
	before := procStatus(b, srv.PID)["VmRSS"]
	cpu0 := procCPU(b, srv.PID)
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
	hwmReset := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", srv.PID), []byte("5"), 0) == nil
	stop := make(chan struct{})
	peak := make(chan int64)
	go func() {
		max := before
		tick := time.NewTicker(uploadSampling)
		defer tick.Stop()
		for {
			if rss := procStatus(b, srv.PID)["VmRSS"]; rss > max {
				max = rss
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()

	start := time.Now()
	out, err := c.UploadFile(ctx, "big.bin", "application/octet-stream", newUploadSource())
	elapsed := time.Since(start)
	close(stop)
	res := uploadResult{elapsed: elapsed, before: before, peak: <-peak, hwm: procStatus(b, srv.PID)["VmHWM"], hwmReset: hwmReset,
		cpu: procCPU(b, srv.PID) - cpu0}
	if err != nil {
		b.Fatalf("upload: %v", err)
	}
	if out.Size != uploadSize {
		b.Fatalf("upload stored %d bytes, want %d", out.Size, uploadSize)
	}
	info, err := c.GetFile(ctx, out.FileID)
	if err != nil {
		b.Fatalf("files.get: %v", err)
	}
	if info.SHA256 != wantSHA {
		b.Fatalf("stored sha256 %s, want %s", info.SHA256, wantSHA)
	}
	if _, err := c.DeleteFile(ctx, out.FileID); err != nil {
		b.Fatalf("files.delete: %v", err)
	}
	return res
}

// procStatus reads the memory fields of /proc/PID/status, in bytes.
func procStatus(b *testing.B, pid int) map[string]int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Errorf("read status of the server: %v", err)
		return nil
	}
	out := map[string]int64{}
	for _, l := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !strings.HasPrefix(k, "Vm") {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[k] = n << 10
			}
		}
	}
	return out
}

// procCPU reads the user+system CPU time of a process from /proc/PID/stat.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Errorf("read stat of the server: %v", err)
		return 0
	}
	// Fields after the command, which is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15 of the whole line.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		b.Errorf("short /proc/%d/stat", pid)
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on Linux.
const clockTicks = 100

// buildRoostBench returns the roost binary built for the tests, unless
// $ROOST_BENCH_BIN names a roost binary to run instead: one that outlives
// the run, so that a profiler can still resolve its symbols afterwards.
func buildRoostBench(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("ROOST_BENCH_BIN"); p != "" {
		return p
	}
	return testutil.RoostBinary(b)
}
