package promapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestGrafanaDoc holds docs/grafana.md to the server: its provisioning
// file is valid YAML for a Prometheus data source, its dashboard valid
// JSON, and every query of the dashboard (variables included) answers
// with data from a node.
func TestGrafanaDoc(t *testing.T) {
	raw, err := os.ReadFile("../docs/grafana.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string][]string{}
	for _, m := range regexp.MustCompile("(?s)```(yaml|json)\n(.*?)```").FindAllStringSubmatch(string(raw), -1) {
		blocks[m[1]] = append(blocks[m[1]], m[2])
	}
	if len(blocks["yaml"]) != 1 || len(blocks["json"]) != 1 {
		t.Fatalf("want one yaml and one json block, got %d and %d", len(blocks["yaml"]), len(blocks["json"]))
	}
	var prov struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, Type, UID, Access, URL string
			BasicAuth                    bool              `yaml:"basicAuth"`
			BasicAuthUser                string            `yaml:"basicAuthUser"`
			SecureJSONData               map[string]string `yaml:"secureJsonData"`
			JSONData                     map[string]any    `yaml:"jsonData"`
		}
	}
	if err := yaml.Unmarshal([]byte(blocks["yaml"][0]), &prov); err != nil {
		t.Fatalf("provisioning YAML: %v", err)
	}
	if prov.APIVersion != 1 || len(prov.Datasources) != 1 {
		t.Fatalf("provisioning: %+v", prov)
	}
	ds := prov.Datasources[0]
	if ds.Type != "prometheus" || ds.UID != "dakkio" || !ds.BasicAuth || ds.SecureJSONData["basicAuthPassword"] == "" || ds.JSONData["httpMethod"] != "POST" {
		t.Errorf("data source: %+v", ds)
	}

	var dash struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query struct {
					Query string `json:"query"`
				} `json:"query"`
				Datasource struct{ UID string } `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title      string               `json:"title"`
			Datasource struct{ UID string } `json:"datasource"`
			Targets    []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(blocks["json"][0]), &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if len(dash.Panels) == 0 || len(dash.Templating.List) != 2 {
		t.Fatalf("dashboard: %+v", dash)
	}

	now := time.Now().Truncate(time.Minute).UnixMilli()
	counter := regular("greenhouse", "sensor-1", "counter", now-26*3600_000, now, 60_000, func(t int64) float64 { return float64(t / 60_000 % 1000) })
	f := newFixture(t, []fixtureSeries{
		regular("greenhouse", "sensor-1", "temperature", now-26*3600_000, now, 60_000, func(t int64) float64 { return float64(t%17) / 2 }),
		regular("greenhouse", "sensor-2", "temperature", now-26*3600_000, now, 60_000, func(int64) float64 { return 20 }),
		counter,
	})
	vars := map[string]string{"$bucket": "greenhouse", "$source": ".+", "$__rate_interval": "1h0m10s"}
	expand := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, k, v)
		}
		return s
	}
	// The variables, as Grafana asks for label_values().
	labelValues := regexp.MustCompile(`^label_values\((?:(.*), )?(\w+)\)$`)
	for _, v := range dash.Templating.List {
		if v.Datasource.UID != ds.UID {
			t.Errorf("variable %s: data source %q, want %q", v.Name, v.Datasource.UID, ds.UID)
		}
		m := labelValues.FindStringSubmatch(v.Query.Query)
		if m == nil {
			t.Fatalf("variable %s: %q is not label_values()", v.Name, v.Query.Query)
		}
		params := url.Values{}
		if m[1] != "" {
			params.Set("match[]", expand(m[1]))
		}
		status, body := promCall(t, f.n.URL, f.n.AdminKey, http.MethodGet, "/api/v1/label/"+m[2]+"/values", params)
		var got struct{ Data []string }
		if err := json.Unmarshal(body, &got); status != http.StatusOK || err != nil || len(got.Data) == 0 {
			t.Errorf("variable %s: %d %s", v.Name, status, body)
		}
	}
	for _, p := range dash.Panels {
		if p.Datasource.UID != ds.UID {
			t.Errorf("panel %s: data source %q", p.Title, p.Datasource.UID)
		}
		for _, target := range p.Targets {
			q := expand(target.Expr)
			status, body := promCall(t, f.n.URL, f.n.AdminKey, http.MethodPost, "/api/v1/query_range", url.Values{"query": {q},
				"start": {secs(now - 24*3600_000)}, "end": {secs(now)}, "step": {"3600"}})
			if status != http.StatusOK || len(decodeResult(t, body).series) == 0 {
				t.Errorf("panel %s: %s: %d %s", p.Title, q, status, body)
			}
		}
	}
}
