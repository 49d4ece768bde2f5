# DynamoDB and Azure Table drivers vs raw libcurl doing the same signed requests, against dynalite
# and Azurite (SS_TEST_DYNAMODB_ENDPOINT, SS_TEST_AZURITE_*: scripts/services/dynalite.sh,
# azurite.sh); exits 77 without either.
if(SS_HAVE_DYNAMODB AND SS_HAVE_AZURE_TABLE)
  ss_add_bench(cloud_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/../cloud_bench.c)
endif()
