// Package diskusage measures the bytes files really take on disk: the blocks
// allocated to them, not their apparent size. Badger's value log is a sparse
// file of a fixed apparent size (2 GiB by default) that holds a few
// kilobytes, so its length says nothing about the disk it uses.
package diskusage
