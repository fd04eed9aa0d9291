//go:build !unix

package main

import (
	"io/fs"
	"os"
	"time"
)

// allocated returns the file's size where the block count is not known.
func allocated(info fs.FileInfo) int64 { return info.Size() }

// cpuTime returns 0 where the process's CPU time is not known.
func cpuTime() time.Duration { return 0 }

// blocksWritten is -1 where the bytes written are not known.
func blocksWritten(*os.ProcessState) int64 { return -1 }
