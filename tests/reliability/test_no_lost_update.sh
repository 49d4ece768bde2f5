#!/usr/bin/env bash
# shellcheck disable=SC1091,SC2034,SC2154  # PORT_x, PID_x, LOG_x, BASE_x come from daemon_start
# No lost update, through the HTTP API, for every store that declares ETags: REL_INCR_CLIENTS
# concurrent clients (default 16) each do REL_INCR_ROUNDS read-modify-write increments of one
# counter with its ETag, retrying on 409; the final counter must equal the number of successful
# writes exactly. memory and sqlite always run; each server store runs when its SS_TEST_* env
# var is set (CI) and is reported as not covered otherwise.
# usage: test_no_lost_update.sh STATESTORED
set -uo pipefail
STATESTORED=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ss-rel-nlu.XXXXXX")
. "$(dirname "$0")/rel_lib.sh"
trap rel_cleanup EXIT

CLIENTS=${REL_INCR_CLIENTS:-16}
ROUNDS=${REL_INCR_ROUNDS:-40}
C="$WORK/components"
mkdir -p "$C"
stores=(mem sqlite)
component "$C/mem.yaml" mem state.in-memory
component "$C/sqlite.yaml" sqlite state.sqlite connectionString "$WORK/nlu.db"
missing=()
add() { # add NAME ENVVAR TYPE PROPS...
  local name=$1 var=$2; shift 2
  if [ -n "${!var:-}" ]; then
    component "$C/$name.yaml" "$name" "$@"
    stores+=("$name")
  else
    missing+=("$name ($var unset)")
  fi
}
add redis SS_TEST_REDIS_ADDR state.redis redisHost "${SS_TEST_REDIS_ADDR:-}"
add etcd SS_TEST_ETCD_ENDPOINTS state.etcd endpoints "${SS_TEST_ETCD_ENDPOINTS:-}" \
  keyPrefixPath "nlu-$$"
add zookeeper SS_TEST_ZOOKEEPER_SERVERS state.zookeeper servers "${SS_TEST_ZOOKEEPER_SERVERS:-}" \
  keyPrefixPath "/nlu-$$"
add postgresql SS_TEST_POSTGRES_DSN state.postgresql connectionString \
  "${SS_TEST_POSTGRES_DSN:-}" tableName "nlu_$$"
add mysql SS_TEST_MYSQL_DSN state.mysql connectionString "${SS_TEST_MYSQL_DSN:-}" \
  tableName "nlu_$$"
add memcached SS_TEST_MEMCACHED_HOSTS state.memcached hosts "${SS_TEST_MEMCACHED_HOSTS:-}"
add hazelcast SS_TEST_HAZELCAST_SERVERS state.hazelcast hazelcastServers \
  "${SS_TEST_HAZELCAST_SERVERS:-}" hazelcastMap "nlu-$$" clusterName "${SS_TEST_HAZELCAST_CLUSTER:-dev}"
add dynamodb SS_TEST_DYNAMODB_ENDPOINT state.aws.dynamodb endpoint "${SS_TEST_DYNAMODB_ENDPOINT:-}" \
  region "${SS_TEST_DYNAMODB_REGION:-}" accessKey "${SS_TEST_DYNAMODB_ACCESS_KEY:-}" \
  secretKey "${SS_TEST_DYNAMODB_SECRET_KEY:-}" table "nlu-$$" createTable true
add azure_table SS_TEST_AZURITE_ENDPOINT state.azure.tablestorage \
  serviceURL "${SS_TEST_AZURITE_ENDPOINT:-}" accountName "${SS_TEST_AZURITE_ACCOUNT:-}" \
  accountKey "${SS_TEST_AZURITE_KEY:-}" tableName "nlu$$"
add firestore SS_TEST_DATASTORE_ENDPOINT state.gcp.firestore \
  endpoint "${SS_TEST_DATASTORE_ENDPOINT:-}" project_id "${SS_TEST_DATASTORE_PROJECT:-}" \
  entity_kind "nlu$$"
add cosmosdb SS_TEST_COSMOS_URL state.azure.cosmosdb url "${SS_TEST_COSMOS_URL:-}" \
  masterKey "${SS_TEST_COSMOS_KEY:-}" database "${SS_TEST_COSMOS_DB:-}" \
  collection "${SS_TEST_COSMOS_COLLECTION:-}"
add cassandra SS_TEST_CASSANDRA_PORT state.cassandra hosts "${SS_TEST_CASSANDRA_HOSTS:-}" \
  port "${SS_TEST_CASSANDRA_PORT:-}" username "${SS_TEST_CASSANDRA_USER:-}" \
  password "${SS_TEST_CASSANDRA_PASSWORD:-}" table "nlu$$"

daemon_start d --resources-path "$C" --app-id nlu || { FAILS=1; rel_finish; exit 1; }
for s in "${stores[@]}"; do
  check "$s: $CLIENTS clients x $ROUNDS increments, none lost" \
    $RELLOAD incr "$BASE_d" "$s" "counter-$$" "$CLIENTS" "$ROUNDS"
done
for m in "${missing[@]}"; do echo "not covered here: $m"; done
st=0
daemon_stop "$PID_d" || st=$?
check "daemon exits 0 on SIGTERM" test "$st" -eq 0
[ "$FAILS" -eq 0 ] || cat "$LOG_d" | tail -20
rel_finish
