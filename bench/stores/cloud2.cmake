# gcp.firestore and azure.cosmosdb drivers vs raw libcurl doing the same REST requests. Need
# SS_TEST_DATASTORE_* / SS_TEST_COSMOS_* (scripts/services/datastore.sh, cosmosdb.sh); each part
# is skipped without its server, and the whole run exits 77 when neither is there.
if(SS_HAVE_FIRESTORE OR SS_HAVE_COSMOSDB)
  ss_add_bench(cloud2_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/../cloud2_bench.c)
  if(SS_HAVE_FIRESTORE)
    target_compile_definitions(cloud2_bench PRIVATE SS_BENCH_FIRESTORE=1)
  endif()
  if(SS_HAVE_COSMOSDB)
    target_compile_definitions(cloud2_bench PRIVATE SS_BENCH_COSMOSDB=1)
  endif()
endif()
