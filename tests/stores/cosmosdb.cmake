# azure.cosmosdb: the conformance suite against @vercel/cosmosdb-server
# (scripts/services/cosmosdb.sh), the driver's own tests, and the master-key signature test.
#
# All items go to one partition (property partitionKey) so that transactions may span keys.
# Three transaction cases are left out of the conformance run, because the stand-in cannot pass
# them; tests/stores/cosmosdb_test.c checks what can be checked of them instead:
#   transaction-rollback, transaction-conditions-in-order: the stand-in's batches are not atomic
#     (operations before a failing one stay applied);
#   transaction-groups: it writes with partitionKey metadata and reads without; in Cosmos DB (as
#     in Dapr's component) those are different partitions, so the reads miss by design.
if(SS_HAVE_COSMOSDB)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(cosmosdb DRIVER azure.cosmosdb
      PROPS "url=\${SS_TEST_COSMOS_URL}" "masterKey=\${SS_TEST_COSMOS_KEY}"
            "database=\${SS_TEST_COSMOS_DB}" "collection=\${SS_TEST_COSMOS_COLLECTION}"
            "partitionKey=conformance"
      CASES "[!t]*" "ttl-*" "transaction-delete-missing" "transaction-order" "transaction-etag"
            "transaction-max-ops" "transaction-many-ops" "transaction-empty"
            "transaction-invalid"
      LABELS cosmosdb)
  endif()
  ss_add_test(cosmosdb_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cosmosdb_test.c
              LIBS Threads::Threads LABELS cosmosdb TIMEOUT 120)
  ss_add_test(cosmos_auth_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cosmos_auth_test.c
              LABELS "cosmosdb;unit" TIMEOUT 30)
  # Signatures of real requests and the error mapping, against a scripted local server.
  pkg_check_modules(SS_CLOUD2_COSMOS_MHD QUIET IMPORTED_TARGET libmicrohttpd)
  if(SS_CLOUD2_COSMOS_MHD_FOUND)
    ss_add_test(cosmosdb_errors_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cosmosdb_errors_test.c
                LIBS PkgConfig::SS_CLOUD2_COSMOS_MHD Threads::Threads LABELS "cosmosdb;unit"
                TIMEOUT 60)
  endif()
endif()
