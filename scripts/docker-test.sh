#!/usr/bin/env bash
# docker-test (make docker-test): the cluster of docker-compose.yml starts
# from a clean checkout, answers through each of its three containers and
# stops cleanly. It builds the binary and the image (make docker), starts the
# cluster as Compose project "dakkio-test", checks it with curl, and always
# removes the containers, network and volumes at the end. Ends with one line:
# "docker-test: PASS ..." or "docker-test: FAIL ...".
#
# Environment: DAKKIO_NODE1_PORT..DAKKIO_NODE3_PORT (host ports, default
# 8081..8083), DAKKIO_SUBNET_PREFIX (see docker-compose.yml),
# DAKKIO_TEST_PROJECT (Compose project name, default dakkio-test).
set -euo pipefail
cd "$(dirname "$0")/.."

project=${DAKKIO_TEST_PROJECT:-dakkio-test}
ports=("${DAKKIO_NODE1_PORT:-8081}" "${DAKKIO_NODE2_PORT:-8082}" "${DAKKIO_NODE3_PORT:-8083}")
ready_timeout=90 # seconds for all three nodes to answer /ready
sync_timeout=10  # seconds for a write to show on another node

# Fresh secrets for each run, so nothing depends on the file's defaults.
rand() { od -An -tx1 -N20 /dev/urandom | tr -d ' \n'; }
export DAKKIO_CLUSTER_KEY="docker-test-$(rand)"
export DAKKIO_INITIAL_ADMIN_KEY="dakkio_a_$(rand)"
export DAKKIO_OPERATOR_TOKEN="dakkio_op_$(rand)"
export DAKKIO_NODE1_PORT=${ports[0]} DAKKIO_NODE2_PORT=${ports[1]} DAKKIO_NODE3_PORT=${ports[2]}

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose -p "$project")
elif command -v docker-compose >/dev/null; then
  compose=(docker-compose -p "$project")
else
  echo "docker-test: FAIL: neither 'docker compose' nor 'docker-compose' is installed"
  exit 1
fi

tmp=$(mktemp -d)
passed=0
current="" # the check running now
started=0  # whether containers may exist

log() { printf '%s\n' "docker-test: $*"; }

finish() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$status" != 0 ] && [ "$started" = 1 ]; then
    log "logs of the failed run:"
    "${compose[@]}" logs --no-color --tail 40 2>&1 | sed 's/^/    /' || true
  fi
  if [ "$started" = 1 ]; then
    "${compose[@]}" down -v --remove-orphans -t 30 >"$tmp/down.log" 2>&1 ||
      { log "cleanup failed:"; sed 's/^/    /' "$tmp/down.log"; status=1; }
  fi
  rm -rf "$tmp"
  # The closing line in the plain "N passed, N failed" form CI reads.
  if [ "$status" = 0 ]; then
    log "$passed passed, 0 failed"
  else
    log "failed step: ${current:-setup}"
    log "$passed passed, 1 failed"
  fi
  exit "$status"
}
trap finish EXIT
trap 'current="interrupted in: $current"; exit 130' INT TERM

# check NAME: starts a named check; the previous one has passed.
check() {
  [ -z "$current" ] || passed=$((passed + 1))
  current=$1
  log "-- $1"
}
fail() { log "$*"; exit 1; }

# call METHOD PORT PATH [BODY]: an API call on a node as the admin (or, for
# /api/operator/, the operator); the body goes to $tmp/body, the status to stdout.
call() {
  local args=(-s -m 10 -o "$tmp/body" -w '%{http_code}' -X "$1" "http://127.0.0.1:$2$3")
  case $3 in
  /api/operator/*) args+=(-H "X-Operator-Token: $DAKKIO_OPERATOR_TOKEN") ;;
  *) args+=(-H "X-API-Key: $DAKKIO_INITIAL_ADMIN_KEY") ;;
  esac
  [ $# -lt 4 ] || args+=(-H 'Content-Type: application/json' -d "$4")
  curl "${args[@]}" || true
}

check "build the binary and the image (make docker)"
make --no-print-directory docker >"$tmp/build.log" 2>&1 || { sed 's/^/    /' "$tmp/build.log"; fail "make docker failed"; }

check "start the cluster (${compose[*]} up -d)"
started=1
"${compose[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true # leftovers of an interrupted run
"${compose[@]}" up -d >"$tmp/up.log" 2>&1 || { sed 's/^/    /' "$tmp/up.log"; fail "compose up failed"; }

check "every node answers /ready within ${ready_timeout}s"
deadline=$((SECONDS + ready_timeout))
for i in 0 1 2; do
  until [ "$(call GET "${ports[$i]}" /ready)" = 200 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "node$((i + 1)) (port ${ports[$i]}) not ready: $(cat "$tmp/body" 2>/dev/null)"
    sleep 1
  done
  log "node$((i + 1)) ready after $((SECONDS + ready_timeout - deadline))s"
done

check "each node shows 3 healthy voters and the same leader (GET /api/operator/cluster)"
leaders=()
for i in 0 1 2; do
  code=$(call GET "${ports[$i]}" /api/operator/cluster)
  body=$(cat "$tmp/body")
  [ "$code" = 200 ] || fail "node$((i + 1)): status $code: $body"
  members=$(grep -o '"nodeId":"node[0-9]*","httpAddress"' <<<"$body" | sort -u | wc -l)
  healthy=$(grep -o '"voter":true,"healthy":true' <<<"$body" | wc -l)
  leader=$(sed -n 's/.*"leaderId":"\([^"]*\)".*/\1/p' <<<"$body")
  [ "$members" = 3 ] && [ "$healthy" = 3 ] && [ -n "$leader" ] && grep -q '"state":"Leader"' <<<"$body" ||
    fail "node$((i + 1)) sees $members members, $healthy healthy voters, leader '$leader': $body"
  leaders+=("$leader")
done
[ "${leaders[0]}" = "${leaders[1]}" ] && [ "${leaders[1]}" = "${leaders[2]}" ] ||
  fail "the nodes disagree on the leader: ${leaders[*]}"
log "leader: ${leaders[0]}"

# A bucket created through each node (the followers forward to the leader)
# must be listed by the two others.
for i in 0 1 2; do
  name="docker-test-node$((i + 1))-$(rand | cut -c1-8)"
  check "a bucket created through node$((i + 1)) is listed by the other nodes"
  code=$(call POST "${ports[$i]}" /api/buckets "{\"name\":\"$name\",\"retentionDays\":7}")
  [ "$code" = 201 ] || fail "create through node$((i + 1)): status $code: $(cat "$tmp/body")"
  id=$(sed -n 's/.*"_id":"\([0-9a-f]\{24\}\)".*/\1/p' "$tmp/body")
  [ -n "$id" ] || fail "no bucket id in $(cat "$tmp/body")"
  for j in 0 1 2; do
    [ "$j" != "$i" ] || continue
    deadline=$((SECONDS + sync_timeout))
    until code=$(call GET "${ports[$j]}" /api/buckets) && [ "$code" = 200 ] && grep -q "\"_id\":\"$id\"" "$tmp/body"; do
      [ "$SECONDS" -lt "$deadline" ] || fail "node$((j + 1)) does not list bucket $id after ${sync_timeout}s: status $code: $(cat "$tmp/body")"
      sleep 0.2
    done
  done
done

check "the nodes stop cleanly on SIGTERM (compose stop)"
"${compose[@]}" stop -t 30 >"$tmp/stop.log" 2>&1 || { sed 's/^/    /' "$tmp/stop.log"; fail "compose stop failed"; }
for id in $("${compose[@]}" ps -q); do
  state=$(docker inspect -f '{{.Name}} running={{.State.Running}} exit={{.State.ExitCode}}' "$id")
  case $state in
  *" running=false exit=0") ;;
  *) fail "not stopped cleanly: $state" ;;
  esac
done

check "the cluster is removed (compose down -v)"
"${compose[@]}" down -v --remove-orphans -t 30 >"$tmp/down.log" 2>&1 || { sed 's/^/    /' "$tmp/down.log"; fail "compose down failed"; }
left=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
vols=$(docker volume ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$left$vols" ] || fail "left behind: containers $left volumes $vols"
started=0
passed=$((passed + 1))
current=""
