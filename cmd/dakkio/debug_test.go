package main

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestDebugProfilesNeedTheOperatorToken: the pprof listener (--debug-addr)
// refuses requests without the operator token, or with a wrong one, and
// serves profiles to the token sent as X-Operator-Token or as the password
// of basic auth (how go tool pprof sends it from a URL).
func TestDebugProfilesNeedTheOperatorToken(t *testing.T) {
	const token = "debug-test-operator-token"
	debugAddr := freeAddr(t)
	s := startServer(t, "node", t.TempDir(), []string{"DAKKIO_DEBUG_ADDR=" + debugAddr, "DAKKIO_OPERATOR_TOKEN=" + token}, nil)
	url := "http://" + debugAddr + "/debug/pprof/cmdline"
	get := func(set func(*http.Request)) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		set(req)
		resp, err := s.hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	none := func(*http.Request) {}
	// The listener opens once the node has started: wait for its first answer.
	deadline := time.Now().Add(readyTimeout)
	for {
		code, _ := get(none)
		if code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the debug listener on %s never answered", debugAddr)
		}
		time.Sleep(20 * time.Millisecond) // polling a listener that is not up yet
	}
	for name, set := range map[string]func(*http.Request){
		"no token":            none,
		"wrong header":        func(r *http.Request) { r.Header.Set("X-Operator-Token", token+"x") },
		"wrong basic auth":    func(r *http.Request) { r.SetBasicAuth("op", "nope") },
		"API key as password": func(r *http.Request) { r.Header.Set("X-API-Key", token) },
	} {
		if code, body := get(set); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d (%q), want 401", name, code, body)
		}
	}
	for name, set := range map[string]func(*http.Request){
		"header":     func(r *http.Request) { r.Header.Set("X-Operator-Token", token) },
		"basic auth": func(r *http.Request) { r.SetBasicAuth("op", token) },
	} {
		if code, body := get(set); code != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: status %d, %d bytes; want 200 with the command line", name, code, len(body))
		}
	}
}
