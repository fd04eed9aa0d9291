package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dakkio/dakkio/store"
)

// shout is a command that exists in tests only, added the way every command
// is: its type and apply, and one entry in the command table. Nothing else
// (codec, FSM, forwarding wire) is edited for it.
type shout struct {
	Text string `json:"text"`
}

func init() {
	commands.add(define(250, func(_ *fsm, c shout) (string, error) {
		if c.Text == "" {
			return "", &store.Error{Kind: store.ErrInvalid, Message: "nothing to shout"}
		}
		return strings.ToUpper(c.Text), nil
	}))
}

// TestTestOnlyCommand: the one-entry command goes through a real one-node
// Raft (encode, log, decode, apply) and through the forwarding wire, with
// its value typed and its business error kept.
func TestTestOnlyCommand(t *testing.T) {
	n := openReady(t, t.TempDir(), "127.0.0.1:0")
	v, err := n.Apply(context.Background(), shout{Text: "hello"})
	if err != nil || v != "HELLO" {
		t.Fatalf("Apply(shout) = %#v, %v; want \"HELLO\"", v, err)
	}
	_, err = n.Apply(context.Background(), shout{})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Apply(empty shout) error = %v, want ErrInvalid", err)
	}
	body, err := EncodeResult(shout{Text: "hello"}, "HELLO", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeResult(shout{Text: "hello"}, body); err != nil || got != "HELLO" {
		t.Fatalf("DecodeResult = %#v, %v; want \"HELLO\"", got, err)
	}
	fwd, err := EncodeForward(shout{Text: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeForward(fwd); err != nil || got != (shout{Text: "a"}) {
		t.Fatalf("DecodeForward = %#v, %v", got, err)
	}
}
