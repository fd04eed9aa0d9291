// Package mqttingest subscribes a node to an MQTT broker and stores what
// devices publish there. It joins the shared subscription
// $share/dakkio/<topic>, so that the broker hands each message to one node
// of the cluster; it acknowledges a QoS 1 message only once it is stored,
// so a message in flight when a node or the broker stops is delivered
// again (storing a point again is harmless: a point is identified by its
// source and time). Messages that can never be stored are counted, logged
// and acknowledged: a broker must not redeliver them forever.
package mqttingest
