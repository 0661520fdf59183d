package node

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/roosthq/roost/node/nodeapi"
)

// sampler reads the machine's metrics from /proc; CPU usage is measured
// between two calls.
type sampler struct {
	dir string

	mu         sync.Mutex
	idle, tot  uint64
	haveSample bool
}

func (s *sampler) sample(version string, running int) nodeapi.Metrics {
	m := nodeapi.Metrics{Version: version, RunningSandboxes: running}
	m.CPUUsage = s.cpu()
	m.MemoryTotalMB, m.MemoryUsedMB = memory()
	m.LoadAverage = loadavg()
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err == nil {
		m.DiskFreeMB = int64(st.Bavail) * int64(st.Bsize) >> 20
	}
	return m
}

// cpu returns the share of CPU time busy since the last call, 0..1.
func (s *sampler) cpu() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0
	}
	var tot, idle uint64
	for i, f := range fields[1:] {
		v, _ := strconv.ParseUint(f, 10, 64)
		tot += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	usage := 0.0
	if s.haveSample && tot > s.tot {
		usage = 1 - float64(idle-s.idle)/float64(tot-s.tot)
	}
	s.idle, s.tot, s.haveSample = idle, tot, true
	if usage < 0 {
		usage = 0
	}
	return usage
}

func memory() (totalMB, usedMB int64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	var total, avail int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	return total >> 10, (total - avail) >> 10
}

func loadavg() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	fields := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(fields); i++ {
		out[i], _ = strconv.ParseFloat(fields[i], 64)
	}
	return out
}
