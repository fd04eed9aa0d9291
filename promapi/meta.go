package promapi

import (
	"net/url"
	"slices"
	"sort"
)

// series answers /api/v1/series: the catalog's series matching match[].
// Series exist as long as their field is in the source's schema, so
// start and end are checked but do not narrow the answer.
func (a *API) series(sc Scope, form url.Values) ([]byte, error) {
	sets, err := matchParams(form, true)
	if err != nil {
		return nil, err
	}
	if err := checkRange(form); err != nil {
		return nil, err
	}
	limit, err := limitParam(form)
	if err != nil {
		return nil, err
	}
	c, err := a.loadCatalog(sc)
	if err != nil {
		return nil, err
	}
	found := c.matchingAny(sets)
	if limit > 0 && len(found) > limit {
		found = found[:limit]
	}
	b := []byte(`{"status":"success","data":[`)
	for i, s := range found {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLabels(b, s.lbls)
	}
	return append(b, `]}`...), nil
}

// checkRange validates the optional start and end of the metadata endpoints.
func checkRange(form url.Values) error {
	start, err := timeParam(form, "start", -maxAbsSeconds*1000)
	if err != nil {
		return err
	}
	end, err := timeParam(form, "end", maxAbsSeconds*1000)
	if err != nil {
		return err
	}
	if end < start {
		return badData("invalid parameter \"end\": end timestamp must not be before start time")
	}
	return nil
}

// labelNames answers /api/v1/labels.
func (a *API) labelNames(sc Scope, form url.Values) ([]byte, error) {
	sets, err := matchParams(form, false)
	if err != nil {
		return nil, err
	}
	if err := checkRange(form); err != nil {
		return nil, err
	}
	limit, err := limitParam(form)
	if err != nil {
		return nil, err
	}
	c, err := a.loadCatalog(sc)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range c.matchingAny(sets) {
		s.lbls.Range(func(l labelPair) { seen[l.Name] = true })
	}
	return stringList(seen, limit), nil
}

// labelValues answers /api/v1/label/<name>/values.
func (a *API) labelValues(sc Scope, name string, form url.Values) ([]byte, error) {
	if name == "" {
		return nil, badData("invalid label name: %q", name)
	}
	sets, err := matchParams(form, false)
	if err != nil {
		return nil, err
	}
	if err := checkRange(form); err != nil {
		return nil, err
	}
	limit, err := limitParam(form)
	if err != nil {
		return nil, err
	}
	c, err := a.loadCatalog(sc)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range c.matchingAny(sets) {
		if v := s.lbls.Get(name); v != "" {
			seen[v] = true
		}
	}
	return stringList(seen, limit), nil
}

func stringList(set map[string]bool, limit int) []byte {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	b := []byte(`{"status":"success","data":[`)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
	}
	return append(b, `]}`...)
}

// metadata answers /api/v1/metadata: every field is a gauge, with its unit.
func (a *API) metadata(sc Scope, form url.Values) ([]byte, error) {
	limit, err := limitParam(form)
	if err != nil {
		return nil, err
	}
	metric, _, err := single(form, "metric")
	if err != nil {
		return nil, err
	}
	c, err := a.loadCatalog(sc)
	if err != nil {
		return nil, err
	}
	units := map[string][]string{}
	for _, s := range c.series {
		if metric != "" && s.field != metric {
			continue
		}
		if !slices.Contains(units[s.field], s.unit) {
			units[s.field] = append(units[s.field], s.unit)
		}
	}
	names := make([]string, 0, len(units))
	for n := range units {
		names = append(names, n)
	}
	sort.Strings(names)
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	b := []byte(`{"status":"success","data":{`)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
		b = append(b, ":["...)
		sort.Strings(units[n])
		for j, u := range units[n] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"gauge","help":"","unit":`...)
			b = appendString(b, u)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, `}}`...), nil
}
