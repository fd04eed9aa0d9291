package main

import (
	"io"
	"testing"

	"github.com/dakkio/dakkio/mqttingest"
)

// TestServeMQTTFlags: the MQTT settings come from the command line, the
// environment (DAKKIO_MQTT_*) or the config file.
func TestServeMQTTFlags(t *testing.T) {
	file := writeFile(t, "dakkio.toml", "mqtt-broker = \"ssl://b:8883\"\nmqtt-tls-ca = \"/ca.pem\"\nmqtt-key = \"k3\"")
	cases := []struct {
		name      string
		args, env []string
		want      mqttingest.Config
	}{
		{"flags", []string{"--mqtt-broker", "tcp://b:1883", "--mqtt-topic", "plant/#", "--mqtt-key", "k1",
			"--mqtt-username", "u", "--mqtt-password", "p", "--mqtt-client-id", "c",
			"--mqtt-tls-cert", "/c.pem", "--mqtt-tls-key", "/k.pem"}, nil,
			mqttingest.Config{Broker: "tcp://b:1883", Topic: "plant/#", Key: "k1", Username: "u", Password: "p", ClientID: "c", CertFile: "/c.pem", KeyFile: "/k.pem"}},
		{"environment", nil, []string{"DAKKIO_MQTT_BROKER", "tcp://e:1883", "DAKKIO_MQTT_KEY", "k2", "DAKKIO_MQTT_PASSWORD", "pw"},
			mqttingest.Config{Broker: "tcp://e:1883", Topic: "dakkio/#", Key: "k2", Password: "pw"}},
		{"config file", []string{"--config", file}, nil,
			mqttingest.Config{Broker: "ssl://b:8883", Topic: "dakkio/#", Key: "k3", CAFile: "/ca.pem"}},
		{"default: off", nil, nil, mqttingest.Config{Topic: "dakkio/#"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _, err := parseServe(c.args, envMap(c.env...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if o.cfg.MQTT != c.want {
				t.Errorf("MQTT config %+v, want %+v", o.cfg.MQTT, c.want)
			}
			if o.cfg.MQTT.Enabled() != (c.want.Broker != "") {
				t.Errorf("Enabled() = %v", o.cfg.MQTT.Enabled())
			}
		})
	}
}
