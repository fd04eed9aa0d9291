// Package peerrpc owns both ends of the calls dakkio nodes make to each other
// over their HTTP port: the paths, a typed request and answer per call, one
// client that signs every call with the cluster's RPC key (node signature
// v2, internal/nodeauth), takes a context and returns errors, and the server
// side that httpapi mounts as one handler after it has checked the
// signature.
//
// The calls:
//
//	PathApply      a follower forwards a metadata command to the leader
//	PathReadIndex  a follower asks the leader for its commit index
//	PathWrite      a coordinator sends a batch of points to a replica
//	PathPoints     a node reads another's points (queries, digests, hours)
//	               or asks it to wait for a Raft index (PointsRequest.Op)
//
// The bodies are the wire format between nodes of different versions:
// fields and ops are added, never renamed.
package peerrpc
