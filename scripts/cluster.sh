#!/usr/bin/env bash
# Runs a 3-node dakkio cluster on 127.0.0.1 in the foreground (make cluster).
# Ctrl-C (or SIGTERM) stops the three nodes and waits for them; a second
# Ctrl-C kills them.
#
#   node   HTTP    Raft   gossip   data
#   node1  :8081   :8301  :7947    $DAKKIO_CLUSTER_DIR/node1
#   node2  :8082   :8302  :7948    $DAKKIO_CLUSTER_DIR/node2
#   node3  :8083   :8303  :7949    $DAKKIO_CLUSTER_DIR/node3
#
# Environment: DAKKIO_BIN (default bin/dakkio), DAKKIO_CLUSTER_DIR (default
# ./data/cluster), DAKKIO_CLUSTER_HTTP_PORT, DAKKIO_CLUSTER_RAFT_PORT and
# DAKKIO_CLUSTER_GOSSIP_PORT (node1's ports; node2 and node3 take the next
# ones). The cluster key, admin key and operator token are generated on the
# first run into the cluster dir and reused afterwards; each node's log is
# in <cluster dir>/nodeN.log.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${DAKKIO_BIN:-bin/dakkio}
dir=${DAKKIO_CLUSTER_DIR:-./data/cluster}
http_port=${DAKKIO_CLUSTER_HTTP_PORT:-8081}
raft_port=${DAKKIO_CLUSTER_RAFT_PORT:-8301}
gossip_port=${DAKKIO_CLUSTER_GOSSIP_PORT:-7947}
ready_timeout=90 # seconds

if [ ! -x "$bin" ]; then
  echo "cluster: $bin not found: run 'make cluster' (or 'make build' first)" >&2
  exit 1
fi
mkdir -p "$dir"
chmod 700 "$dir"

# secret FILE PREFIX prints the secret kept in FILE, creating it first with
# PREFIX and 40 random hex digits (letters and digits, as keys require).
secret() {
  if [ ! -s "$1" ]; then
    (umask 077 && printf '%s%s\n' "$2" "$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')" >"$1.tmp")
    mv "$1.tmp" "$1"
  fi
  head -n1 "$1"
}
if [ ! -s "$dir/admin-key" ] && [ -d "$dir/node1" ]; then
  echo "cluster: $dir/node1 exists but $dir/admin-key does not: the nodes keep the keys of their first" >&2
  echo "         start, so new ones would not work; delete $dir to start afresh" >&2
  exit 1
fi
cluster_key=$(secret "$dir/cluster-key" "")
admin_key=$(secret "$dir/admin-key" "dakkio_a_")
operator_token=$(secret "$dir/operator-token" "dakkio_op_")

pids=()  # by index: 0 is node1; a node that has exited is unset
names=()

# stop [STATUS] signals every node still running, waits for each and exits
# with STATUS, or 1 if a node did not stop cleanly. A second Ctrl-C while it
# waits kills them.
stop() {
  local status=${1:-0} code i
  trap - EXIT
  trap kill_all INT TERM
  echo
  echo "cluster: stopping the nodes (Ctrl-C again kills them)"
  for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for i in "${!pids[@]}"; do
    code=0
    wait "${pids[$i]}" 2>/dev/null || code=$?
    # wait returns early when a signal comes in: wait again until it is gone.
    while kill -0 "${pids[$i]}" 2>/dev/null; do
      code=0
      wait "${pids[$i]}" 2>/dev/null || code=$?
    done
    echo "cluster: ${names[$i]} stopped (exit $code)"
    [ "$code" = 0 ] || status=1
  done
  exit "$status"
}
kill_all() {
  echo "cluster: killing the nodes"
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  exit 1
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

for i in 1 2 3; do
  name=node$i
  DAKKIO_CLUSTER_KEY=$cluster_key DAKKIO_INITIAL_ADMIN_KEY=$admin_key DAKKIO_OPERATOR_TOKEN=$operator_token \
    "$bin" serve --node-id "$name" --data-dir "$dir/$name" \
    --http-addr "127.0.0.1:$((http_port + i - 1))" \
    --raft-addr "127.0.0.1:$((raft_port + i - 1))" \
    --gossip-addr "127.0.0.1:$((gossip_port + i - 1))" \
    --bootstrap-expect 3 --join "127.0.0.1:$gossip_port" \
    </dev/null >>"$dir/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
done
echo "cluster: started node1..3 (pids ${pids[*]}), logs in $dir/node{1,2,3}.log"

# died reports node index $1, which exited on its own, with the end of its
# log, and forgets it.
died() {
  local code=0
  wait "${pids[$1]}" 2>/dev/null || code=$?
  echo "cluster: ${names[$1]} exited (status $code); end of $dir/${names[$1]}.log:" >&2
  tail -n 15 "$dir/${names[$1]}.log" | sed 's/^/    /' >&2
  unset "pids[$1]"
}

deadline=$((SECONDS + ready_timeout))
for i in 0 1 2; do
  url="http://127.0.0.1:$((http_port + i))"
  until curl -sf -m 2 -o /dev/null "$url/ready"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      died "$i"
      stop 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster: ${names[$i]} not ready after ${ready_timeout}s; see $dir/${names[$i]}.log" >&2
      stop 1
    fi
    sleep 0.5 & wait $!
  done
done

cat <<EOF

dakkio: 3-node cluster ready
  node1  http://127.0.0.1:$http_port
  node2  http://127.0.0.1:$((http_port + 1))
  node3  http://127.0.0.1:$((http_port + 2))
  data and logs   $dir
  admin key       $admin_key
  operator token  $operator_token

Any node takes any call, for example:
  curl -s -X POST http://127.0.0.1:$http_port/api/buckets -H 'X-API-Key: $admin_key' -d '{"name":"greenhouse","retentionDays":90}'
  curl -s http://127.0.0.1:$((http_port + 2))/api/buckets -H 'X-API-Key: $admin_key'
  $bin cluster status --addr http://127.0.0.1:$((http_port + 1)) --token $operator_token

Ctrl-C stops the cluster.
EOF

# Wait for Ctrl-C. A node that dies on its own (or is killed to try a
# failover) is reported; the others keep running.
while :; do
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || died "$i"
  done
  [ "${#pids[@]}" -gt 0 ] || { echo "cluster: every node has exited" >&2; exit 1; }
  sleep 1 & wait $!
done
