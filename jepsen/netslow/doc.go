// Package netslow slows the links between the chaos suite's nodes without
// tc netem (which many kernels, this CI's among them, are built without):
// an iptables NFQUEUE rule sends the packets the bridge forwards from node
// to node to this process, which lets each through after the delay and
// jitter of its sender's link (so packets overtake one another: reordering)
// or drops it (loss); an iptables TEE rule with a random match duplicates
// packets. The harness reaches the nodes through the bridge's own address,
// which is never slowed.
package netslow
