# Azure Table Storage: the conformance suite against Azurite (scripts/services/azurite.sh) twice:
#   conformance.azure_table            with the partitionKey property (every key in one
#                                      partition, so every transaction case applies);
#   conformance.azure_table_dapr_layout  Dapr's layout (partition = the part before "||"), without
#                                      the cases whose transactions span keys of different
#                                      partitions, which the driver refuses as Azure does;
# and the driver's own tests (SharedKey, layout, same-partition rule, error mapping).
if(SS_HAVE_AZURE_TABLE)
  set(_ss_azt_props
      "serviceURL=\${SS_TEST_AZURITE_ENDPOINT}" "accountName=\${SS_TEST_AZURITE_ACCOUNT}"
      "accountKey=\${SS_TEST_AZURITE_KEY}" "tableName=conformance")
  if(COMMAND ss_add_conformance)
    ss_add_conformance(azure_table DRIVER azure.tablestorage
      PROPS ${_ss_azt_props} "partitionKey=statestore" LABELS azure_table)
    ss_add_conformance(azure_table_dapr_layout DRIVER azure.tablestorage PROPS ${_ss_azt_props}
      CASES ping identity get-missing set-get delete delete-missing options-valid options-invalid
            invalid-keys api-misuse error-messages feature-etag feature-first-write feature-ttl
            dapr-values value-empty value-binary value-json-text value-large value-over-max
            key-max-len bulk-* concurrent-mixed etag-* first-write-* race-* transaction-empty
            transaction-invalid transaction-delete-missing ttl-*
      LABELS azure_table)
  endif()
  ss_add_test(azure_table_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/azure_table_test.c
              ${CMAKE_CURRENT_LIST_DIR}/dynamodb_fake_server.c LIBS Threads::Threads
              LABELS azure_table TIMEOUT 120)
endif()
