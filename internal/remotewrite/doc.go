// Package remotewrite reads Prometheus remote write 1.0 requests: a
// snappy-compressed protobuf WriteRequest, decoded with the Prometheus
// project's own message types (prompb), and names each series the way
// dakkio stores it: the labels other than __name__, sorted, name the data
// source ({instance="a:9100",job="node"}) and __name__ is the field.
package remotewrite
