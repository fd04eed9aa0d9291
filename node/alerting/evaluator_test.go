package alerting

import "testing"

func TestEvaluates(t *testing.T) {
	alive := map[string]bool{"a": true, "b": true, "c": true}
	for _, tc := range []struct {
		name     string
		self     string
		replicas []string
		dead     string
		leader   bool
		want     bool
	}{
		{name: "first replica", self: "a", replicas: []string{"a", "b"}, want: true},
		{name: "second replica, first alive", self: "b", replicas: []string{"a", "b"}, want: false},
		{name: "second replica, first dead", self: "b", replicas: []string{"a", "b"}, dead: "a", want: true},
		{name: "not a replica", self: "c", replicas: []string{"a", "b"}, want: false},
		{name: "no placement, leader", self: "a", leader: true, want: true},
		{name: "no placement, follower", self: "a", want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isAlive := func(id string) bool { return alive[id] && id != tc.dead }
			if got := Evaluates(tc.self, tc.replicas, isAlive, func() bool { return tc.leader }); got != tc.want {
				t.Fatalf("Evaluates = %v, want %v", got, tc.want)
			}
		})
	}
}
