package nodeauth

// WellFormed reports whether header is a signature header in the v1 format,
// whatever it signs. A receiver checks it before reading a request's body,
// which the signature covers, so that a request that cannot be signed is
// refused without the body being read.
func WellFormed(header string) bool {
	_, _, _, _, err := parse(header)
	return err == nil
}
