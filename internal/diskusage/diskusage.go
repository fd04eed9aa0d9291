package diskusage

import (
	"errors"
	"io/fs"
	"path/filepath"
)

// Usage is what a directory's files take on disk, by kind.
type Usage struct {
	// Tables are Badger's LSM tables (*.sst).
	Tables int64
	// ValueLog is Badger's value log (*.vlog).
	ValueLog int64
	// Other is everything else (manifest, discard stats, key registry, ...).
	Other int64
}

// Total is the directory's whole usage.
func (u Usage) Total() int64 { return u.Tables + u.ValueLog + u.Other }

// Dir walks dir and adds up the space each regular file takes on disk.
// Files that vanish during the walk (Badger compacts and deletes tables
// concurrently) are skipped, not an error.
func Dir(dir string) (Usage, error) {
	var u Usage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		n := onDisk(info)
		switch filepath.Ext(path) {
		case ".sst":
			u.Tables += n
		case ".vlog":
			u.ValueLog += n
		default:
			u.Other += n
		}
		return nil
	})
	return u, err
}
