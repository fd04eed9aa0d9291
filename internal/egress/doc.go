// Package egress decides which addresses the node's outbound webhooks may
// reach, so that a webhook URL cannot turn the node into a scanner of its
// own machine, its cloud's metadata service or its own ports.
//
// A Policy is checked twice: on a URL's literal address when a rule is
// saved (a clear 400), and on every address actually dialled, in the
// dialer's Control function, which sees the resolved IP and port after DNS
// and on every redirect: a name that resolves, or rebinds, to a refused
// address is refused all the same.
package egress
