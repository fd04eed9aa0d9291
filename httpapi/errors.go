package httpapi

import (
	"errors"
	"log/slog"

	"github.com/valyala/fasthttp"

	"github.com/dakkio/dakkio/replication"
	"github.com/dakkio/dakkio/store"
)

// Error types of the envelope.
const (
	typeValidation   = "Validation Error"
	typeBadRequest   = "Bad Request"
	typeUnauthorized = "Unauthorized"
	typeForbidden    = "Forbidden"
	typeNotFound     = "Not Found"
	typeMethod       = "Method Not Allowed"
	typeConflict     = "Conflict"
	typeTooLarge     = "Payload Too Large"
	typeTooMany      = "Too Many Requests"
	typeInternal     = "Internal Server Error"
	typeUnavailable  = "Service Unavailable"
)

// Detail points at one invalid part of a request.
type Detail struct {
	Path    []any  `json:"path"`
	Message string `json:"message"`
}

// apiError is an error already in wire form.
type apiError struct {
	Status  int      `json:"-"`
	Type    string   `json:"error"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func validationError(msg string, details ...Detail) *apiError {
	return &apiError{Status: fasthttp.StatusBadRequest, Type: typeValidation, Message: msg, Details: details}
}

func forbidden(msg string) *apiError {
	return &apiError{Status: fasthttp.StatusForbidden, Type: typeForbidden, Message: msg}
}

func notFound(msg string) *apiError {
	return &apiError{Status: fasthttp.StatusNotFound, Type: typeNotFound, Message: msg}
}

var (
	errUnauthorized = &apiError{Status: fasthttp.StatusUnauthorized, Type: typeUnauthorized, Message: "Invalid or missing API key"}
	errBadOperator  = &apiError{Status: fasthttp.StatusUnauthorized, Type: typeUnauthorized, Message: "Invalid or missing operator token"}
	// errBadNodeSignature: a node call whose signature, or whose body
	// against the hash it signs, does not verify.
	errBadNodeSignature = &apiError{Status: fasthttp.StatusUnauthorized, Type: typeUnauthorized, Message: "Invalid node signature"}
	errAdminOnly        = forbidden("This endpoint requires an admin API key")
	errNoWrite          = forbidden("API key does not have write permission")
	errOtherBucket      = forbidden("API key does not have access to this bucket")
	errTooLarge         = &apiError{Status: fasthttp.StatusRequestEntityTooLarge, Type: typeTooLarge, Message: "Request body exceeds the maximum size"}
	// errBodiesInFlight: the bound of request bodies in flight is reached.
	errBodiesInFlight = &apiError{Status: fasthttp.StatusServiceUnavailable, Type: typeUnavailable,
		Message: "Too many request bodies in flight on this node; retry shortly"}
)

// errorTable maps the business errors of store, and replication.ErrUnavailable, to the
// wire: the one place where error kinds become status codes.
var errorTable = []struct {
	kind   error
	status int
	typ    string
}{
	{store.ErrNotFound, fasthttp.StatusNotFound, typeNotFound},
	{store.ErrConflict, fasthttp.StatusConflict, typeConflict},
	{store.ErrAlreadyInitialized, fasthttp.StatusConflict, typeConflict},
	{store.ErrInvalid, fasthttp.StatusBadRequest, typeValidation},
	{store.ErrPlanLimit, fasthttp.StatusForbidden, typeForbidden},
	{replication.ErrUnavailable, fasthttp.StatusServiceUnavailable, typeUnavailable},
}

// toAPIError returns err in wire form; unknown errors become a 500 whose
// detail is logged, not shown.
func toAPIError(err error, log *slog.Logger) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, row := range errorTable {
		if errors.Is(err, row.kind) {
			msg := err.Error()
			var se *store.Error
			if errors.As(err, &se) {
				msg = se.Message
			}
			if row.kind == replication.ErrUnavailable {
				msg = "The cluster cannot serve this request now; retry later"
			}
			return &apiError{Status: row.status, Type: row.typ, Message: msg}
		}
	}
	log.Error("request failed", "err", err)
	return &apiError{Status: fasthttp.StatusInternalServerError, Type: typeInternal, Message: "An internal error occurred"}
}
