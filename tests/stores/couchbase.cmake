# couchbase: the conformance suite against CouchbaseMock with two nodes
# (scripts/services/couchbase.sh writes SS_TEST_COUCHBASE_URL; the runs skip without it), the
# driver's routing/failover/durability test against the same mock, and the unit test of the frame
# codec and config parser (no server).
if(SS_HAVE_COUCHBASE)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(couchbase DRIVER couchbase
      PROPS "couchbaseURL=\${SS_TEST_COUCHBASE_URL}" "bucketName=\${SS_TEST_COUCHBASE_BUCKET}")
    # The write cases again with every write waiting (OBSERVE) for the replica and for two copies
    # on disk. Not keys-special, invalid-keys, dapr-values: CouchbaseMock 1.5.25's OBSERVE reply
    # sizes its buffer by the key's characters, not bytes, and a non-ASCII key kills the node's
    # thread (BufferOverflowException in BinaryObserveResponse).
    ss_add_conformance(couchbase_durable DRIVER couchbase
      PROPS "couchbaseURL=\${SS_TEST_COUCHBASE_URL}" "bucketName=\${SS_TEST_COUCHBASE_BUCKET}"
            "numReplicasDurableReplication=1" "numReplicasDurablePersistence=2"
      CASES "set-get" "delete*" "etag-*" "first-write-*" "bulk-*" "race-*" "ttl-*" "value-*"
            "key-max-len" "concurrent-mixed")
  endif()
  ss_add_test(couchbase_proto_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/couchbase_proto_test.c
              LABELS couchbase TIMEOUT 60)
  ss_add_test(couchbase_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/couchbase_test.c
              LABELS couchbase TIMEOUT 180)
endif()
