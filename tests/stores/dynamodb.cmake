# DynamoDB: SigV4 against AWS's published vectors, the conformance suite against dynalite
# (scripts/services/dynalite.sh), and the driver's own tests. All need the driver: its libcrypto
# is what builds src/support/aws_sigv4.c.
#
# dynalite has no TransactWriteItems, so the conformance run leaves out the cases that need
# transactions, and conformance.dynamodb_dynalite runs the whole suite on the driver registered
# without its transaction slot (everything but transactions; those cases are skipped, visibly).
# Transactions are tested in dynamodb_test against the shapes of AWS's API reference.
if(SS_HAVE_DYNAMODB)
  ss_add_test(sigv4_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sigv4_test.c LABELS dynamodb TIMEOUT 60)
  # AWS's SigV4 suite is third-party data: not in this repository, read from the shared reference
  # folder beside the checkout when it is there (see tests/stores/sigv4_test.c).
  target_compile_definitions(sigv4_test PRIVATE
    SS_SIGV4_DIR="${CMAKE_SOURCE_DIR}/../shared/reference/aws-sigv4-test-suite")
  target_link_libraries(sigv4_test PRIVATE PkgConfig::SSPKG_libcrypto)

  set(_ss_ddb_props
      "endpoint=\${SS_TEST_DYNAMODB_ENDPOINT}" "region=\${SS_TEST_DYNAMODB_REGION}"
      "accessKey=\${SS_TEST_DYNAMODB_ACCESS_KEY}" "secretKey=\${SS_TEST_DYNAMODB_SECRET_KEY}"
      "table=statestore-conformance" "createTable=true" "ttlAttributeName=expiresAt")
  if(COMMAND ss_add_conformance)
    ss_add_conformance(dynamodb DRIVER aws.dynamodb PROPS ${_ss_ddb_props}
      CASES ping identity get-missing set-get delete delete-missing options-valid options-invalid
            invalid-keys api-misuse error-messages feature-etag feature-first-write feature-ttl
            dapr-values value-binary value-json-text value-large value-over-max key-max-len
            bulk-* concurrent-mixed etag-* first-write-* race-first-write ttl-invalid
            ttl-boundaries ttl-no-expire-time ttl-expire-time ttl-remove-minus-one
      LABELS dynamodb)
  endif()
  if(TARGET ss_conformance_suite)
    set(_ss_ddb_args --driver aws.dynamodb.dynalite)
    foreach(p IN LISTS _ss_ddb_props)
      list(APPEND _ss_ddb_args --prop "${p}")
    endforeach()
    ss_add_test(conformance.dynamodb_dynalite
                SOURCES ${CMAKE_CURRENT_LIST_DIR}/dynamodb_conformance_notx.c
                LIBS ss_conformance_suite ARGS ${_ss_ddb_args} LABELS "dynamodb;conformance")
  endif()
  ss_add_test(dynamodb_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/dynamodb_test.c
              ${CMAKE_CURRENT_LIST_DIR}/dynamodb_fake_server.c LIBS Threads::Threads
              LABELS dynamodb TIMEOUT 120)
endif()
