//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
	"time"
)

// allocated returns the bytes a file takes on disk, as du counts them: the
// ranges Badger preallocates but has not written yet do not count.
func allocated(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}

// cpuTime returns the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// blocksWritten is the bytes an exited process wrote to storage over its
// life, from its rusage (512-byte blocks); -1 where unknown.
func blocksWritten(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Oublock * 512
	}
	return -1
}
