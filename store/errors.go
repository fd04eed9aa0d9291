package store

import (
	"errors"
	"fmt"
)

// Kinds of business error. Apply and the readers return an *Error whose Kind
// is one of these, so callers map them with errors.Is and show Error() to the
// user as it is.
var (
	// ErrNotFound: the resource does not exist (or belongs to another organization).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change would break a uniqueness rule or act on an archived bucket.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the change is well-formed but not allowed by the current state.
	ErrInvalid = errors.New("invalid")
	// ErrAlreadyInitialized: the cluster already holds its initial organization.
	ErrAlreadyInitialized = errors.New("already initialized")
	// ErrPlanLimit: the organization's plan does not allow the change.
	ErrPlanLimit = errors.New("plan limit")
	// ErrSuppressed: an alert trigger was not recorded (rule paused, gone or
	// cooling down). Not an error for the caller to report.
	ErrSuppressed = errors.New("suppressed")
)

// Error is a business error with a message meant for API users.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}
