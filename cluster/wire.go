package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/dakkio/dakkio/store"
)

// A follower forwards a metadata command to the leader over the internal
// HTTP surface: the request body is EncodeForward(cmd), the leader applies
// DecodeForward(body) and answers EncodeResult(cmd, value, err), and the
// follower's DecodeResult gives back what Apply returned on the leader, of
// the same Go types, so callers cannot tell a forwarded command from a
// local one.
//
// A result body is JSON:
//
//	{"value": <what Apply returned>, "error": {"kind": "not found", "message": "Bucket not found"}}
//
// "value" is left out when Apply returns no value (and when it returns a
// zero value with an error); "error" is left out on success. Errors other
// than business errors (not the leader, timeouts) are not results: the
// handler answers them with an HTTP status before EncodeResult.

// ErrBadResult: a result body that is not what EncodeResult writes (not
// JSON, a value of the wrong shape, an error kind this node does not know).
// The command may or may not have been applied.
var ErrBadResult = errors.New("bad forwarded result")

// errorKinds maps the kinds of store.Error to their names on the wire. The
// names are part of the protocol between nodes of different versions:
// append, never rename.
var errorKinds = []struct {
	name string
	kind error
}{
	{"not found", store.ErrNotFound},
	{"conflict", store.ErrConflict},
	{"invalid", store.ErrInvalid},
	{"already initialized", store.ErrAlreadyInitialized},
	{"plan limit", store.ErrPlanLimit},
	{"suppressed", store.ErrSuppressed},
}

type wireResult struct {
	Value json.RawMessage `json:"value,omitempty"`
	Error *wireError      `json:"error,omitempty"`
}

type wireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// EncodeForward returns the body that forwards cmd to the leader: the same
// bytes as its Raft log entry (type byte, then JSON).
func EncodeForward(cmd any) ([]byte, error) {
	return encodeCommand(cmd)
}

// DecodeForward is the inverse of EncodeForward. An error wraps
// ErrUnknownCommand when the type byte is not known to this node (the
// sender is newer), or comes from JSON when the body is malformed.
func DecodeForward(b []byte) (any, error) {
	return decodeCommand(b)
}

// EncodeResult returns the result body for what applying cmd returned.
// value must be of the type the FSM returns for cmd (nil if none), and err
// nil or a business error (*store.Error of a known kind); anything else is
// refused, since the follower could not rebuild it.
func EncodeResult(cmd any, value any, err error) ([]byte, error) {
	typ, terr := resultType(cmd)
	if terr != nil {
		return nil, fmt.Errorf("cannot encode result: %w", terr)
	}
	var res wireResult
	if err != nil {
		var se *store.Error
		if !errors.As(err, &se) {
			return nil, fmt.Errorf("cannot encode result of %T: %w is not a business error", cmd, err)
		}
		res.Error = &wireError{Message: se.Message}
		for _, k := range errorKinds {
			if errors.Is(se.Kind, k.kind) {
				res.Error.Kind = k.name
				break
			}
		}
		if res.Error.Kind == "" {
			return nil, fmt.Errorf("cannot encode result of %T: error kind %v has no wire name", cmd, se.Kind)
		}
	}
	switch {
	case typ == nil && value != nil:
		return nil, fmt.Errorf("cannot encode result of %T: value %T, want none", cmd, value)
	case typ != nil && reflect.TypeOf(value) != typ:
		return nil, fmt.Errorf("cannot encode result of %T: value %T, want %v", cmd, value, typ)
	case typ != nil && (err == nil || !reflect.ValueOf(value).IsZero()):
		v, merr := marshal(value)
		if merr != nil {
			return nil, fmt.Errorf("cannot encode result of %T: %w", cmd, merr)
		}
		res.Value = v
	}
	b, merr := marshal(res)
	if merr != nil {
		return nil, fmt.Errorf("cannot encode result of %T: %w", cmd, merr)
	}
	return b, nil
}

// marshal is json.Marshal without HTML escaping, as encodeCommand writes:
// a stored webhook payload must come back with the bytes it went in with.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeResult is the inverse of EncodeResult for the command cmd that was
// forwarded: it returns the value as the FSM's type for cmd (nil for
// commands without one) and a business error as a *store.Error whose Kind
// is the store sentinel, so errors.Is works as on the leader. A body it
// cannot read gives an error wrapping ErrBadResult and no value.
//
// A value sent for a command that returns none is ignored, and unknown
// fields are ignored, so that a newer leader can add to its answers.
func DecodeResult(cmd any, b []byte) (any, error) {
	typ, err := resultType(cmd)
	if err != nil {
		return nil, fmt.Errorf("cannot decode result: %w", err)
	}
	// json.Unmarshal takes null for an empty struct; a result is an object.
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w of %T: not a JSON object", ErrBadResult, cmd)
	}
	var res wireResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%w of %T: %v", ErrBadResult, cmd, err)
	}
	var resErr error
	if res.Error != nil {
		for _, k := range errorKinds {
			if k.name == res.Error.Kind {
				resErr = &store.Error{Kind: k.kind, Message: res.Error.Message}
				break
			}
		}
		if resErr == nil {
			return nil, fmt.Errorf("%w of %T: unknown error kind %q: %s", ErrBadResult, cmd, res.Error.Kind, res.Error.Message)
		}
	}
	if typ == nil {
		return nil, resErr
	}
	hasValue := len(res.Value) > 0 && !bytes.Equal(res.Value, []byte("null"))
	if !hasValue && resErr == nil {
		return nil, fmt.Errorf("%w of %T: no value", ErrBadResult, cmd)
	}
	v := reflect.New(typ)
	if hasValue {
		if err := json.Unmarshal(res.Value, v.Interface()); err != nil {
			return nil, fmt.Errorf("%w of %T: value: %v", ErrBadResult, cmd, err)
		}
	}
	return v.Elem().Interface(), resErr
}
