package platform_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// closedLoop runs clients callers of call for d, each calling again as
// soon as its last call returned, and gives every call's latency and the
// time taken. The first failure stops every caller and is returned.
func closedLoop(ctx context.Context, clients int, d time.Duration, call func(context.Context) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []time.Duration
		firstErr error
		failed   atomic.Bool
	)
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lats := make([]time.Duration, 0, 4096)
			for !failed.Load() {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				if err := call(ctx); err != nil {
					if failed.CompareAndSwap(false, true) {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
					break
				}
				lats = append(lats, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lats...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if len(all) == 0 {
		return nil, 0, errors.New("no request finished")
	}
	return all, elapsed, nil
}
