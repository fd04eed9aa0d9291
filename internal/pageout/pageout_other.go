//go:build !linux

package pageout

// Trim does nothing where the kernel has no MADV_PAGEOUT.
func (t *Trimmer) Trim() (int64, error) { return 0, nil }

// Shed does nothing where the kernel has no MADV_PAGEOUT.
func (t *Trimmer) Shed(budget int64) (found, shed int64, err error) { return 0, 0, nil }

// FileResident is 0 where the kernel has no MADV_PAGEOUT: Shed does nothing.
func FileResident() (int64, error) { return 0, nil }
