package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// FuzzLineProtocolWrite sends arbitrary line-protocol bodies through the
// whole write path (parse, series to sources, schema checks, source
// creation, the points store) and checks that nothing panics or answers
// 500, that errors are InfluxDB's body, that a refused write stores no
// point and creates no source, and that an accepted one stores at most a
// point per line.
func FuzzLineProtocolWrite(f *testing.F) {
	ts := dfNow.Unix()
	for _, s := range []string{
		fmt.Sprintf("weather,site=north temp=21.5,n=3i,u=7u,ok=true,s=\"x\" %d", ts),
		fmt.Sprintf("m f=1 %d\nm f=2 %d\nm g=3 %d", ts, ts-1, ts),
		fmt.Sprintf("m f=1 %d\nm f=\"x\" %d", ts, ts),
		fmt.Sprintf("m f=1 %d\n\n# c\nm f= %d", ts, ts),
		"m f=1 1", "m f=1", "m\\ x,a\\=b=c\\,d f=1i", "m,b=1,a=2 f=t,g=F", "m f\\ x=1", "",
		fmt.Sprintf("%s f=1", bytes.Repeat([]byte("x"), 120)),
	} {
		for _, who := range []uint8{0, 1, 2} {
			f.Add([]byte(s), who)
		}
	}
	envFor := dataEnvFor(f)
	f.Fuzz(func(t *testing.T, body []byte, who uint8) {
		e := envFor(t)
		key := []string{dfAdminKey, dfWriteKey, dfReadKey}[who%3]
		req := fmt.Sprintf("POST /api/v2/write (key %d) %q", who%3, body)
		before, srcBefore := e.points(), e.counts(t).sources
		status, _, resp := e.do("POST", "/api/v2/write?bucket="+dfBucket+"&precision=s", body, header{"Authorization", "Token " + key})
		after, srcAfter := e.points(), e.counts(t).sources
		switch status {
		case 204:
			if len(resp) != 0 || after < before || after-before > int64(bytes.Count(body, []byte("\n"))+1) {
				t.Fatalf("%s\n204 with body %q took the bucket from %d to %d points", req, resp, before, after)
			}
		case 400, 403, 404, 409, 413:
			var ie map[string]string
			if err := json.Unmarshal(resp, &ie); err != nil || len(ie) != 2 || ie["code"] == "" || ie["message"] == "" {
				t.Fatalf("%s\n%d with body %s, want InfluxDB's error body", req, status, resp)
			}
			if after != before || srcAfter != srcBefore {
				t.Fatalf("%s\nrefused (%d %s), but points went %d→%d and sources %d→%d", req, status, resp, before, after, srcBefore, srcAfter)
			}
		default:
			t.Fatalf("%s\nstatus %d: %s\nlogs: %s", req, status, resp, e.logs.String())
		}
	})
}
