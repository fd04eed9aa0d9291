package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeVM stands in for VictoriaMetrics where --vm-addr needs one: it keeps
// the line protocol written to /write (each line's source tag, fields and
// nanosecond time) and answers /api/v1/export for {source="..."} with one
// JSON line per field, as VictoriaMetrics does.
type fakeVM struct {
	mu     sync.Mutex
	series map[string]map[string][]int64 // source → field → times (ms)
}

func newFakeVM(t *testing.T) *httptest.Server {
	vm := &fakeVM{series: map[string]map[string][]int64{}}
	srv := httptest.NewServer(vm)
	t.Cleanup(srv.Close)
	return srv
}

func (vm *fakeVM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/write":
		vm.write(w, r)
	case "/internal/force_flush":
	case "/api/v1/export":
		vm.export(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (vm *fakeVM) write(w http.ResponseWriter, r *http.Request) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		// sensor,source=sensor-001 temperature=21.5,humidity=40 <ns>
		parts := strings.Fields(sc.Text())
		if len(parts) != 3 {
			continue
		}
		_, source, ok := strings.Cut(parts[0], ",source=")
		ns, err := strconv.ParseInt(parts[2], 10, 64)
		if !ok || err != nil {
			http.Error(w, "bad line: "+sc.Text(), http.StatusBadRequest)
			return
		}
		if vm.series[source] == nil {
			vm.series[source] = map[string][]int64{}
		}
		for _, kv := range strings.Split(parts[1], ",") {
			field, _, _ := strings.Cut(kv, "=")
			vm.series[source][field] = append(vm.series[source][field], ns/1e6)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (vm *fakeVM) export(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	source := strings.TrimSuffix(strings.TrimPrefix(q.Get("match[]"), `{source="`), `"}`)
	start, err1 := strconv.ParseFloat(q.Get("start"), 64)
	end, err2 := strconv.ParseFloat(q.Get("end"), 64)
	if err1 != nil || err2 != nil {
		http.Error(w, "bad start or end", http.StatusBadRequest)
		return
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	fields := make([]string, 0, len(vm.series[source]))
	for f := range vm.series[source] {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		line := struct {
			Metric     map[string]string `json:"metric"`
			Values     []float64         `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}{Metric: map[string]string{"__name__": "sensor_" + f, "source": source}, Values: []float64{}, Timestamps: []int64{}}
		for _, ms := range vm.series[source][f] {
			if float64(ms) >= start*1000 && float64(ms) <= end*1000 {
				line.Timestamps = append(line.Timestamps, ms)
				line.Values = append(line.Values, 1)
			}
		}
		if err := enc.Encode(line); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	w.Write(out.Bytes())
}
