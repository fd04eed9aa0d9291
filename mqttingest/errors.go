package mqttingest

import "errors"

var (
	// ErrConfig is a configuration that cannot work.
	ErrConfig = errors.New("invalid MQTT configuration")
	// ErrTopic is a message topic that names no bucket and source.
	ErrTopic = errors.New("topic does not name a bucket and a data source")
)
