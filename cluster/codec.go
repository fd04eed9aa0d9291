package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/dakkio/dakkio/store"
)

// commandType is the first byte of every log entry. Values are part of the
// on-disk format: append new ones, never renumber.
type commandType byte

const (
	cmdBootstrap commandType = iota + 1
	cmdCreateOrg
	cmdUpdateOrg
	cmdCreateKey
	cmdDeleteKey
	cmdCreateBucket
	cmdUpdateBucket
	cmdDeleteBucket
	cmdCreateSource
	cmdSetUsage
	cmdCreateAlert
	cmdUpdateAlert
	cmdDeleteAlert
	cmdTriggerAlert
	cmdRecordDelivery
	cmdRebalance
	cmdReplicaCaughtUp
	cmdRestoreState
	cmdDeleteAdminKey
	cmdRotateOperatorToken
	cmdUpdateSource
	cmdDeleteSource
	cmdCreateWebhook
	cmdUpdateWebhook
	cmdDeleteWebhook
	cmdPublishEvent
	cmdTestWebhook
	cmdRecordWebhookDelivery
)

// encodeCommand returns a log entry: the type byte, then the command as JSON.
// Metadata changes are rare and small, so JSON's cost buys readable logs and
// forward-compatible fields.
func encodeCommand(cmd any) ([]byte, error) {
	var t commandType
	switch cmd.(type) {
	case store.Bootstrap:
		t = cmdBootstrap
	case store.CreateOrg:
		t = cmdCreateOrg
	case store.UpdateOrg:
		t = cmdUpdateOrg
	case store.CreateKey:
		t = cmdCreateKey
	case store.DeleteKey:
		t = cmdDeleteKey
	case store.CreateBucket:
		t = cmdCreateBucket
	case store.UpdateBucket:
		t = cmdUpdateBucket
	case store.DeleteBucket:
		t = cmdDeleteBucket
	case store.CreateSource:
		t = cmdCreateSource
	case store.SetUsage:
		t = cmdSetUsage
	case store.CreateAlert:
		t = cmdCreateAlert
	case store.UpdateAlert:
		t = cmdUpdateAlert
	case store.DeleteAlert:
		t = cmdDeleteAlert
	case store.TriggerAlert:
		t = cmdTriggerAlert
	case store.RecordDelivery:
		t = cmdRecordDelivery
	case store.Rebalance:
		t = cmdRebalance
	case store.ReplicaCaughtUp:
		t = cmdReplicaCaughtUp
	case store.RestoreState:
		t = cmdRestoreState
	case store.DeleteAdminKey:
		t = cmdDeleteAdminKey
	case store.RotateOperatorToken:
		t = cmdRotateOperatorToken
	case store.UpdateSource:
		t = cmdUpdateSource
	case store.DeleteSource:
		t = cmdDeleteSource
	case store.CreateWebhook:
		t = cmdCreateWebhook
	case store.UpdateWebhook:
		t = cmdUpdateWebhook
	case store.DeleteWebhook:
		t = cmdDeleteWebhook
	case store.PublishEvent:
		t = cmdPublishEvent
	case store.TestWebhook:
		t = cmdTestWebhook
	case store.RecordWebhookDelivery:
		t = cmdRecordWebhookDelivery
	default:
		return nil, fmt.Errorf("cannot encode %T: %w", cmd, ErrUnknownCommand)
	}
	// No HTML escaping: stored webhook payloads must keep their bytes.
	buf := bytes.NewBuffer([]byte{byte(t)})
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cmd); err != nil {
		return nil, fmt.Errorf("cannot encode %T: %w", cmd, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func decodeInto[T any](body []byte) (T, error) {
	var v T
	err := json.Unmarshal(body, &v)
	return v, err
}

// decodeCommand is the inverse of encodeCommand.
func decodeCommand(entry []byte) (any, error) {
	if len(entry) == 0 {
		return nil, fmt.Errorf("empty log entry: %w", ErrUnknownCommand)
	}
	body := entry[1:]
	switch commandType(entry[0]) {
	case cmdBootstrap:
		return decodeInto[store.Bootstrap](body)
	case cmdCreateOrg:
		return decodeInto[store.CreateOrg](body)
	case cmdUpdateOrg:
		return decodeInto[store.UpdateOrg](body)
	case cmdCreateKey:
		return decodeInto[store.CreateKey](body)
	case cmdDeleteKey:
		return decodeInto[store.DeleteKey](body)
	case cmdCreateBucket:
		return decodeInto[store.CreateBucket](body)
	case cmdUpdateBucket:
		return decodeInto[store.UpdateBucket](body)
	case cmdDeleteBucket:
		return decodeInto[store.DeleteBucket](body)
	case cmdCreateSource:
		return decodeInto[store.CreateSource](body)
	case cmdSetUsage:
		return decodeInto[store.SetUsage](body)
	case cmdCreateAlert:
		return decodeInto[store.CreateAlert](body)
	case cmdUpdateAlert:
		return decodeInto[store.UpdateAlert](body)
	case cmdDeleteAlert:
		return decodeInto[store.DeleteAlert](body)
	case cmdTriggerAlert:
		return decodeInto[store.TriggerAlert](body)
	case cmdRecordDelivery:
		return decodeInto[store.RecordDelivery](body)
	case cmdRebalance:
		return decodeInto[store.Rebalance](body)
	case cmdReplicaCaughtUp:
		return decodeInto[store.ReplicaCaughtUp](body)
	case cmdRestoreState:
		return decodeInto[store.RestoreState](body)
	case cmdDeleteAdminKey:
		return decodeInto[store.DeleteAdminKey](body)
	case cmdRotateOperatorToken:
		return decodeInto[store.RotateOperatorToken](body)
	case cmdUpdateSource:
		return decodeInto[store.UpdateSource](body)
	case cmdDeleteSource:
		return decodeInto[store.DeleteSource](body)
	case cmdCreateWebhook:
		return decodeInto[store.CreateWebhook](body)
	case cmdUpdateWebhook:
		return decodeInto[store.UpdateWebhook](body)
	case cmdDeleteWebhook:
		return decodeInto[store.DeleteWebhook](body)
	case cmdPublishEvent:
		return decodeInto[store.PublishEvent](body)
	case cmdTestWebhook:
		return decodeInto[store.TestWebhook](body)
	case cmdRecordWebhookDelivery:
		return decodeInto[store.RecordWebhookDelivery](body)
	}
	return nil, fmt.Errorf("type byte %d: %w", entry[0], ErrUnknownCommand)
}
