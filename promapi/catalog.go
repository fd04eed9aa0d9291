package promapi

import (
	"errors"
	"sort"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/dakkio/dakkio/store"
)

// catalogPage is the page size when listing buckets and sources.
const catalogPage = 1000

// seriesRef is one series of the model: a numeric field of a data source.
type seriesRef struct {
	bucketID string
	sourceID string
	field    string
	unit     string
	lbls     labels.Labels
}

// catalog lists every series the scope may read, sorted by labels.
type catalog struct {
	series    []seriesRef
	buckets   map[string]bool // ids
	retention map[string]int  // days, by bucket id
}

// loadCatalog builds the series of the buckets sc may read.
func (a *API) loadCatalog(sc Scope) (*catalog, error) {
	var buckets []store.Bucket
	if sc.BucketID != "" {
		b, err := a.cfg.Catalog.Bucket(sc.OrgID, sc.BucketID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			buckets = append(buckets, b)
		}
	} else {
		for off := 0; ; off += catalogPage {
			page, total := a.cfg.Catalog.Buckets(sc.OrgID, off, catalogPage)
			buckets = append(buckets, page...)
			if len(page) == 0 || off+len(page) >= total {
				break
			}
		}
	}
	c := &catalog{buckets: make(map[string]bool, len(buckets)), retention: make(map[string]int, len(buckets))}
	var lb labels.ScratchBuilder
	for _, b := range buckets {
		c.buckets[b.ID] = true
		c.retention[b.ID] = b.RetentionDays
		for off := 0; ; off += catalogPage {
			page, total := a.cfg.Catalog.Sources(b.ID, off, catalogPage)
			for _, src := range page {
				for field, def := range src.Schema {
					if def.Type != "number" {
						continue
					}
					c.series = append(c.series, seriesRef{bucketID: b.ID, sourceID: src.ID, field: field,
						unit: def.Unit, lbls: seriesLabels(&lb, field, b.Name, src)})
				}
			}
			if len(page) == 0 || off+len(page) >= total {
				break
			}
		}
	}
	sort.Slice(c.series, func(i, j int) bool { return labels.Compare(c.series[i].lbls, c.series[j].lbls) < 0 })
	return c, nil
}

// seriesLabels is the model of API.md: __name__ the field, bucket and
// source the names, then the source's tags (never overriding those three).
func seriesLabels(lb *labels.ScratchBuilder, field, bucket string, src store.DataSource) labels.Labels {
	lb.Reset()
	lb.Add(labels.MetricName, field)
	lb.Add("bucket", bucket)
	lb.Add("source", src.Name)
	for k, v := range src.Tags {
		if k == labels.MetricName || k == "bucket" || k == "source" || k == "" || v == "" {
			continue
		}
		lb.Add(k, v)
	}
	lb.Sort()
	return lb.Labels()
}

// matching returns the series matching every matcher.
func (c *catalog) matching(ms []*labels.Matcher) []seriesRef {
	var out []seriesRef
	for _, s := range c.series {
		if matchesAll(s.lbls, ms) {
			out = append(out, s)
		}
	}
	return out
}

func matchesAll(l labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}

// matchingAny returns the series matching any of the sets (all series
// when there are none), in label order.
func (c *catalog) matchingAny(sets [][]*labels.Matcher) []seriesRef {
	if len(sets) == 0 {
		return c.series
	}
	var out []seriesRef
	for _, s := range c.series {
		for _, ms := range sets {
			if matchesAll(s.lbls, ms) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
