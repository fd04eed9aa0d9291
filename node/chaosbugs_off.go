//go:build !chaosbugs

package node

// chaosBug is empty in every real build: the injected bugs of chaosbugs.go
// compile away.
const chaosBug = ""
