package lineproto

import (
	"errors"
	"fmt"
)

// ErrPrecision is returned for a precision the protocol does not name.
var ErrPrecision = errors.New("unknown precision")

// Error is a problem with one line of the body.
type Error struct {
	Line int // one-based
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }
