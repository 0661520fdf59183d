package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options configures an S3 store.
type S3Options struct {
	// Endpoint is host:port, or a URL whose scheme picks TLS.
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	// Insecure uses plain HTTP instead of HTTPS.
	Insecure bool
	// PartSize is the multipart part size; default 16 MiB. minio-go's own
	// default for streams of unknown length allocates a buffer of hundreds
	// of MiB per upload.
	PartSize uint64
}

// S3 stores objects in a bucket of an S3-compatible service.
type S3 struct {
	c        *minio.Client
	bucket   string
	partSize uint64
}

// DefaultPartSize is the multipart part size of S3 uploads.
const DefaultPartSize = 16 << 20

// OpenS3 connects to the service and creates the bucket if it is missing.
func OpenS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, errors.New("blob s3: endpoint and bucket are required")
	}
	endpoint, secure := o.Endpoint, !o.Insecure
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil {
			return nil, fmt.Errorf("blob s3: endpoint %q: %w", endpoint, err)
		}
		endpoint, secure = u.Host, u.Scheme == "https"
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: secure,
		Region: o.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("blob s3: %w", err)
	}
	exists, err := c.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob s3: bucket %s: %w", o.Bucket, err)
	}
	if !exists {
		if err := c.MakeBucket(ctx, o.Bucket, minio.MakeBucketOptions{Region: o.Region}); err != nil {
			if code := minio.ToErrorResponse(err).Code; code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
				return nil, fmt.Errorf("blob s3: create bucket %s: %w", o.Bucket, err)
			}
		}
	}
	return &S3{c: c, bucket: o.Bucket, partSize: o.PartSize}, nil
}

// Kind is "s3".
func (s *S3) Kind() string { return "s3" }

// Put uploads r; the object appears only when the upload completes.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, err
	}
	ui, err := s.c.PutObject(ctx, s.bucket, key, ctxReader{ctx, r}, size, minio.PutObjectOptions{
		PartSize:    s.partSize,
		ContentType: "application/octet-stream",
	})
	if err != nil {
		return Info{}, fmt.Errorf("blob s3: put %s: %w", key, err)
	}
	return Info{Key: key, Size: ui.Size, ModTime: ui.LastModified}, nil
}

func isNotFound(err error) bool {
	resp := minio.ToErrorResponse(err)
	return resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound
}

// Get opens key, optionally a byte range of it.
func (s *S3) Get(ctx context.Context, key string, rng *Range) (io.ReadCloser, Info, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	opts := minio.GetObjectOptions{}
	if rng != nil {
		start, length, err := rng.resolve(info.Size)
		if err != nil {
			return nil, Info{}, err
		}
		if err := opts.SetRange(start, start+length-1); err != nil {
			return nil, Info{}, fmt.Errorf("blob s3: %w", err)
		}
	}
	obj, err := s.c.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		if isNotFound(err) {
			return nil, Info{}, ErrNotFound
		}
		return nil, Info{}, fmt.Errorf("blob s3: get %s: %w", key, err)
	}
	return obj, info, nil
}

// Stat describes key.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidKey(key); err != nil {
		return Info{}, err
	}
	oi, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if isNotFound(err) {
			return Info{}, ErrNotFound
		}
		return Info{}, fmt.Errorf("blob s3: stat %s: %w", key, err)
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete removes key, and the parts of any unfinished upload to it; deleting
// a missing key succeeds. A process killed in the middle of a Put leaves its
// multipart upload behind (parts stored, no object), which only an abort
// frees; deleting the key is how a crashed upload is swept.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("blob s3: delete %s: %w", key, err)
	}
	if err := s.c.RemoveIncompleteUpload(ctx, s.bucket, key); err != nil && !isNotFound(err) {
		return fmt.Errorf("blob s3: abort unfinished uploads of %s: %w", key, err)
	}
	return nil
}

// List returns the objects whose keys start with prefix, sorted by key.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, err
	}
	out := []Info{}
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("blob s3: list: %w", oi.Err)
		}
		out = append(out, Info{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified})
	}
	return out, nil
}
