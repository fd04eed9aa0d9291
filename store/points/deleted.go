package points

// A write is validated (its bucket and sources exist) before it reaches the
// writer, so one can be queued when its source or bucket is deleted, and
// commit after the delete has dropped everything stored. Its points would
// then be stored under a source no longer listed: counted in the bucket's
// total but in no source's. The DB remembers what it deleted since it
// opened and takes those points out of any group it commits afterwards; the
// write is answered as if it had come just before the delete, its points
// deleted with the rest. Ids are never reused, so nothing legitimate is
// dropped. A reopened store forgets (DESIGN.md, "One writer").
type deletions struct {
	sources map[series]struct{}
	buckets map[id12]struct{}
}

func (d *deletions) source(s series) {
	if d.sources == nil {
		d.sources = map[series]struct{}{}
	}
	d.sources[s] = struct{}{}
}

func (d *deletions) bucket(b id12) {
	if d.buckets == nil {
		d.buckets = map[id12]struct{}{}
	}
	d.buckets[b] = struct{}{}
}

// drop takes the points of deleted sources and buckets out of the group's
// requests. A request's slices are the caller's, so one that loses points
// gets new ones; most groups, with nothing deleted, are left as they are.
func (d *deletions) drop(group []*writeReq) {
	if len(d.sources) == 0 && len(d.buckets) == 0 {
		return
	}
	for _, req := range group {
		if _, gone := d.buckets[req.bucket]; gone {
			req.pts, req.srcs = nil, nil
			continue
		}
		if len(d.sources) == 0 {
			continue
		}
		var pts []Point
		var srcs []id12
		dropped := false
		var last id12
		gone := false
		for i, src := range req.srcs {
			if i == 0 || src != last {
				// A batch's points mostly come source by source.
				_, gone = d.sources[series{req.bucket, src}]
				last = src
			}
			switch {
			case gone && !dropped:
				pts = append(make([]Point, 0, len(req.pts)-1), req.pts[:i]...)
				srcs = append(make([]id12, 0, len(req.srcs)-1), req.srcs[:i]...)
				dropped = true
			case !gone && dropped:
				pts = append(pts, req.pts[i])
				srcs = append(srcs, src)
			}
		}
		if dropped {
			req.pts, req.srcs = pts, srcs
		}
	}
}
