# redis driver vs raw hiredis (same commands, one connection): needs SS_TEST_REDIS_ADDR
# (scripts/services/redis.sh); exits 77 without it.
if(SS_HAVE_REDIS)
  ss_add_bench(redis_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/../redis_bench.c)
endif()
