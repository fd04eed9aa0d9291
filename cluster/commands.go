package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/dakkio/dakkio/store"
)

// commands is every Raft command this binary knows. Adding a command is one
// entry here: its type byte (the first byte of its log entries, part of the
// on-disk format: take the next free one, never renumber or reuse), and the
// store method that applies it. The codec, the FSM and the forwarding wire
// all read this table.
var commands = newCommandTable(
	noValue(1, (*store.State).ApplyBootstrap),
	noValue(2, (*store.State).ApplyCreateOrg),
	withValue(3, (*store.State).ApplyUpdateOrg),
	noValue(4, (*store.State).ApplyCreateKey),
	withValue(5, (*store.State).ApplyDeleteKey),
	noValue(6, (*store.State).ApplyCreateBucket),
	withValue(7, (*store.State).ApplyUpdateBucket),
	define(8, applyDeleteBucket),
	noValue(9, (*store.State).ApplyCreateSource),
	noValue(10, (*store.State).ApplySetUsage),
	noValue(11, (*store.State).ApplyCreateAlert),
	withValue(12, (*store.State).ApplyUpdateAlert),
	withValue(13, (*store.State).ApplyDeleteAlert),
	withValue(14, (*store.State).ApplyTriggerAlert),
	noValue(15, (*store.State).ApplyRecordDelivery),
	noValue(16, (*store.State).ApplyRebalance),
	noValue(17, (*store.State).ApplyReplicaCaughtUp),
	noValue(18, (*store.State).ApplyRestoreState),
	withValue(19, (*store.State).ApplyDeleteAdminKey),
	noValue(20, (*store.State).ApplyRotateOperatorToken),
	withValue(21, (*store.State).ApplyUpdateSource),
	define(22, applyDeleteSource),
	noValue(23, (*store.State).ApplyCreateWebhook),
	withValue(24, (*store.State).ApplyUpdateWebhook),
	withValue(25, (*store.State).ApplyDeleteWebhook),
	withValue(26, (*store.State).ApplyPublishEvent),
	withValue(27, (*store.State).ApplyTestWebhook),
	noValue(28, (*store.State).ApplyRecordWebhookDelivery),
)

// applyDeleteBucket removes the bucket from the metadata, then its points,
// inside the same Apply, so that they go in the same log order on every
// replica.
func applyDeleteBucket(f *fsm, c store.DeleteBucket) (store.DeletedBucket, error) {
	d, err := f.state.ApplyDeleteBucket(c)
	if err == nil && f.onDeleteBucket != nil {
		d.DataPoints = f.onDeleteBucket(c.ID)
	}
	return d, err
}

// applyDeleteSource removes a data source, then its points, likewise.
func applyDeleteSource(f *fsm, c store.DeleteSource) (store.DeletedSource, error) {
	d, err := f.state.ApplyDeleteSource(c)
	if err == nil && f.onDeleteSource != nil {
		d.DataPoints = f.onDeleteSource(c.BucketID, c.ID)
	}
	return d, err
}

// commandType is the first byte of every log entry.
type commandType byte

// command is what the codec, the FSM and the wire know of one kind of
// command; define, withValue and noValue build it from a typed apply.
type command struct {
	typ    commandType
	goType reflect.Type // the command struct, e.g. store.CreateBucket
	result reflect.Type // the type of the value apply returns; nil for none
	decode func(body []byte) (any, error)
	apply  func(f *fsm, cmd any) Applied
}

// define makes the command of type C, applied by apply, whose value is an R.
func define[C, R any](typ commandType, apply func(f *fsm, c C) (R, error)) command {
	return command{
		typ:    typ,
		goType: reflect.TypeFor[C](),
		result: reflect.TypeFor[R](),
		decode: func(body []byte) (any, error) {
			var c C
			err := json.Unmarshal(body, &c)
			return c, err
		},
		apply: func(f *fsm, cmd any) Applied {
			v, err := apply(f, cmd.(C))
			return Applied{Value: v, Err: err}
		},
	}
}

// withValue makes a command applied by a store method that returns a value.
func withValue[C, R any](typ commandType, apply func(*store.State, C) (R, error)) command {
	return define(typ, func(f *fsm, c C) (R, error) { return apply(f.state, c) })
}

// noValue makes a command applied by a store method that returns only an error.
func noValue[C any](typ commandType, apply func(*store.State, C) error) command {
	c := define(typ, func(f *fsm, c C) (struct{}, error) { return struct{}{}, apply(f.state, c) })
	inner := c.apply
	c.result = nil
	c.apply = func(f *fsm, cmd any) Applied { return Applied{Err: inner(f, cmd).Err} }
	return c
}

// commandTable finds a command by its type byte or by its Go type.
type commandTable struct {
	byType map[commandType]command
	byGo   map[reflect.Type]command
}

// newCommandTable indexes cmds. A type byte or Go type used twice is a
// programming error that no test run gets past, so it panics.
func newCommandTable(cmds ...command) *commandTable {
	t := &commandTable{byType: map[commandType]command{}, byGo: map[reflect.Type]command{}}
	for _, c := range cmds {
		t.add(c)
	}
	return t
}

func (t *commandTable) add(c command) {
	if _, dup := t.byType[c.typ]; dup || c.typ == 0 {
		panic(fmt.Sprintf("cluster: command type byte %d used twice or zero", c.typ))
	}
	if _, dup := t.byGo[c.goType]; dup {
		panic(fmt.Sprintf("cluster: command %v defined twice", c.goType))
	}
	t.byType[c.typ] = c
	t.byGo[c.goType] = c
}

// of returns the command cmd is a value of.
func (t *commandTable) of(cmd any) (command, error) {
	c, ok := t.byGo[reflect.TypeOf(cmd)]
	if !ok {
		return command{}, fmt.Errorf("%T: %w", cmd, ErrUnknownCommand)
	}
	return c, nil
}

// encodeCommand returns a log entry: the type byte, then the command as JSON.
// Metadata changes are rare and small, so JSON's cost buys readable logs and
// forward-compatible fields.
func encodeCommand(cmd any) ([]byte, error) {
	c, err := commands.of(cmd)
	if err != nil {
		return nil, fmt.Errorf("cannot encode: %w", err)
	}
	// No HTML escaping: stored webhook payloads must keep their bytes.
	buf := bytes.NewBuffer([]byte{byte(c.typ)})
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cmd); err != nil {
		return nil, fmt.Errorf("cannot encode %T: %w", cmd, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeCommand is the inverse of encodeCommand.
func decodeCommand(entry []byte) (any, error) {
	if len(entry) == 0 {
		return nil, fmt.Errorf("empty log entry: %w", ErrUnknownCommand)
	}
	c, ok := commands.byType[commandType(entry[0])]
	if !ok {
		return nil, fmt.Errorf("type byte %d: %w", entry[0], ErrUnknownCommand)
	}
	return c.decode(entry[1:])
}

// resultType is the Go type of the value the FSM returns for cmd, nil for
// commands that return none, or an error for what is not a command.
func resultType(cmd any) (reflect.Type, error) {
	c, err := commands.of(cmd)
	if err != nil {
		return nil, err
	}
	return c.result, nil
}
