// Command dakkio runs a dakkio node (dakkio serve) and wraps the operator
// endpoints (dakkio org ..., dakkio cluster ...).
package main
