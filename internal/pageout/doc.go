// Package pageout hands the pages of files this process wrote through a
// memory mapping back to the kernel, once each file is complete.
//
// Badger writes every LSM table through a shared mapping of the new file and
// keeps the file mapped for reads. Each page it wrote stays resident in the
// process, so a node's RSS grows by every table it writes and, with
// compactions, by the whole data set it stores. A Trimmer finds the mappings
// of such files in /proc/self/maps and asks the kernel to page them out
// (MADV_PAGEOUT) on the first look that finds each one, and again on the
// second: a file is mapped before it is written, and pages written after
// the first advice would stay. Reads fault the pages they need back in; what stays resident is
// then what is read, not what was written. Clean pages leave the page
// cache too; dirty ones are only unmapped, and the kernel keeps them in the
// page cache until they are written back, which is what lets the store
// hand back Badger's write-ahead files as they are written.
//
// Reads can fault in a great deal: a compaction reads its input tables
// through their mappings, and their pages stay counted in the process until
// the tables are deleted. Shed bounds what stays: it reads each mapping's
// resident size from /proc/self/smaps and pages out the most resident
// mappings until the rest fit a budget.
//
// Paging out evicts clean pages from the page cache too, so they come back
// from disk. A file whose owner can hold it mapped while the Trimmer
// advises (SetPin; the store holds its tables with an open iterator) is
// dropped instead (MADV_DONTNEED): its pages leave the process and stay
// in the page cache.
//
// MADV_PAGEOUT is safe against the race inherent in reading another
// owner's mappings from /proc: if a table is unmapped and its range reused
// before the advice lands, the advice only asks the kernel to reclaim the
// new range's pages, which it does only where nothing is lost (clean file
// pages dropped, anonymous pages swapped out); dirty pages, and anonymous
// memory without swap, it keeps. It never discards contents, as
// MADV_DONTNEED would.
package pageout
