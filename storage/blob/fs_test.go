package blob

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// writeSizes records the size of every write.
type writeSizes struct {
	bytes.Buffer
	sizes []int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

func TestCopyFull(t *testing.T) {
	data := make([]byte, 3*fsWriteSize+5)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, size := range []int{0, 1, fsWriteSize, fsWriteSize + 1, len(data)} {
		t.Run(fmt.Sprintf("%d-bytes-read-4KiB-at-a-time", size), func(t *testing.T) {
			var w writeSizes
			n, err := copyFull(&w, &chunked{r: iotest.HalfReader(bytes.NewReader(data[:size])), max: 4096})
			if err != nil || n != int64(size) || !bytes.Equal(w.Bytes(), data[:size]) {
				t.Fatalf("copied %d bytes (%d match), %v; want %d", n, w.Len(), err, size)
			}
			for i, s := range w.sizes {
				if s != fsWriteSize && i != len(w.sizes)-1 {
					t.Fatalf("write %d of %d has %d bytes: only the last may be short of %d", i, len(w.sizes), s, fsWriteSize)
				}
			}
		})
	}

	for _, cause := range []error{io.ErrUnexpectedEOF, errors.New("connection reset")} {
		t.Run("source-fails-with-"+cause.Error(), func(t *testing.T) {
			r := io.MultiReader(bytes.NewReader(data[:fsWriteSize+10]), iotest.ErrReader(cause))
			n, err := copyFull(io.Discard, r)
			if !errors.Is(err, cause) {
				t.Fatalf("copy of a failing source = %d bytes, %v; want %v", n, err, cause)
			}
		})
	}
}

// chunked returns at most max bytes per Read, like a multipart part.
type chunked struct {
	r   io.Reader
	max int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}
