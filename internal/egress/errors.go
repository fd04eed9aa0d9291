package egress

import "errors"

// ErrBlocked is returned, wrapped with the address and the reason, for a
// destination the policy refuses.
var ErrBlocked = errors.New("blocked by egress policy")
