//go:build unix

package diskusage

import (
	"io/fs"
	"syscall"
)

// onDisk is the space the file's allocated blocks take: st_blocks counts
// 512-byte units whatever the filesystem's block size.
func onDisk(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return info.Size()
}
