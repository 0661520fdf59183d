package files

import (
	"context"

	"github.com/roosthq/roost/methods"
	"github.com/roosthq/roost/rpc"
)

// Register binds files.get, files.list and files.delete.
func (s *Service) Register(r *rpc.Registry) {
	rpc.Register(r, methods.FilesGet, rpc.WithOrg(func(ctx context.Context, org string, in methods.GetFileInput) (methods.FileInfo, error) {
		f, err := s.Get(ctx, org, in.FileID)
		if err != nil {
			return methods.FileInfo{}, err
		}
		return f.Wire(), nil
	}))
	rpc.Register(r, methods.FilesList, rpc.WithOrg(func(ctx context.Context, org string, in methods.ListFilesInput) (methods.ListFilesOutput, error) {
		limit, offset, err := rpc.Page(in.Limit, in.Offset)
		if err != nil {
			return methods.ListFilesOutput{}, err
		}
		list, total, err := s.List(ctx, org, limit, offset)
		if err != nil {
			return methods.ListFilesOutput{}, err
		}
		out := methods.ListFilesOutput{Files: make([]methods.FileInfo, 0, len(list)), Total: total}
		for _, f := range list {
			out.Files = append(out.Files, f.Wire())
		}
		return out, nil
	}))
	rpc.Register(r, methods.FilesDelete, rpc.WithOrg(func(ctx context.Context, org string, in methods.DeleteFileInput) (methods.OKOutput, error) {
		if err := s.Delete(ctx, org, in.FileID); err != nil {
			return methods.OKOutput{}, err
		}
		return methods.OKOutput{OK: true}, nil
	}))
}
