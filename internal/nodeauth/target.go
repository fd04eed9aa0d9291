package nodeauth

import (
	"net/http"
	"strings"
	"time"
)

// Target is the request target a signature covers, in canonical form: the
// path exactly as sent (still escaped), then "?" and the raw query when
// the query is not empty. Sender and receiver must both build it with
// Target, so that "/p" and "/p?" sign alike and nothing of the query is
// left out on either side.
func Target(path, rawQuery string) string {
	if rawQuery == "" {
		return path
	}
	return path + "?" + rawQuery
}

// SignRequest signs req, whose body is body, at time now: it sets HeaderName
// over req's method, its target as the HTTP client will send it (path and
// query) and body. Each call makes a new nonce, so a retry must call it
// again rather than resend the header: a Verifier refuses a nonce it has
// seen.
func SignRequest(key []byte, req *http.Request, body []byte, now time.Time) {
	path, query, _ := strings.Cut(req.URL.RequestURI(), "?")
	req.Header.Set(HeaderName, Sign(key, req.Method, Target(path, query), body, now))
}
