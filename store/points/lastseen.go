package points

// LastPointTime returns the time (Unix ns) of the newest point the source
// holds, and false when it holds none. It reads the in-memory series info
// only, so it is cheap enough for a ticker that asks about every source.
func (db *DB) LastPointTime(bucketID, sourceID string) (int64, bool) {
	bucket, err1 := parseID(bucketID)
	source, err2 := parseID(sourceID)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	info := db.info(series{bucket: bucket, source: source})
	if info.count <= 0 {
		return 0, false
	}
	return info.maxTS, true
}
