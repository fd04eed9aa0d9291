// Package lineproto reads InfluxDB line protocol into series rows: the
// measurement and sorted tags that name a series, its fields and its time.
// Parsing is github.com/influxdata/line-protocol/v2's; this package adds
// what dakkio needs on top: line numbers on every error (also on the ones
// found after the syntax, such as a timestamp out of range), a canonical
// series key, and values already mapped to dakkio's three types.
package lineproto
