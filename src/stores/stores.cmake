# Every driver, one block each (see cmake/drivers.cmake for the arguments). Keep alphabetical
# order within the two groups. The memory and sqlite drivers are always available.

# --- embedded ---
ss_driver(memory SYMBOL ss_driver_memory SOURCES src/stores/memory.c)
ss_driver(sqlite SYMBOL ss_driver_sqlite SOURCES src/stores/sqlite.c PKG sqlite3)

# --- network servers ---
ss_driver(cassandra SYMBOL ss_driver_cassandra SOURCES src/stores/cassandra/cassandra.c
          src/stores/cassandra/cql.c)
ss_driver(couchbase SYMBOL ss_driver_couchbase
          SOURCES src/stores/couchbase/couchbase.c src/stores/couchbase/proto.c
                  src/stores/couchbase/config.c src/stores/couchbase/scram.c
          PKG libcurl jansson zlib libcrypto)
ss_driver(etcd SYMBOL ss_driver_etcd SOURCES src/stores/etcd.c PKG libcurl jansson)
ss_driver(hazelcast SYMBOL ss_driver_hazelcast SOURCES src/stores/hazelcast/hazelcast.c
          src/stores/hazelcast/codec.c)
ss_driver(memcached SYMBOL ss_driver_memcached SOURCES src/stores/memcached.c PKG libmemcached libcrypto)
ss_driver(mongodb SYMBOL ss_driver_mongodb
          SOURCES src/stores/mongodb/mongodb.c src/stores/mongodb/documents.c PKG libmongoc-1.0)
# The SQL drivers are dialects of src/stores/sql/sql.c (listed by each; built once).
ss_driver(mysql SYMBOL ss_driver_mysql PKG libmariadb
          SOURCES src/stores/sql/sql.c src/stores/sql/mysql.c src/stores/sql/mysql_dsn.c)
ss_driver(sqlserver SYMBOL ss_driver_sqlserver LIBS sybdb HEADER sybdb.h
          SOURCES src/stores/sql/sql.c src/stores/sql/sqlserver.c src/stores/sql/sqlserver_conn.c
          src/stores/sql/sqlserver_tsql.c)
ss_driver(postgresql SYMBOL ss_driver_postgresql PKG libpq
          SOURCES src/stores/sql/sql.c src/stores/sql/postgresql.c)
ss_driver(redis SYMBOL ss_driver_redis SOURCES src/stores/redis/redis.c src/stores/redis/pool.c src/stores/redis/topology.c src/stores/redis/pipeline.c src/stores/redis/ops.c src/stores/redis/cluster.c PKG hiredis)
ss_driver(zookeeper SYMBOL ss_driver_zookeeper SOURCES src/stores/zookeeper.c
          LIBS zookeeper_mt HEADER zookeeper/zookeeper.h DEFINES THREADED)
ss_driver(dynamodb SYMBOL ss_driver_dynamodb SOURCES src/stores/dynamodb.c PKG libcurl jansson libcrypto)
ss_driver(firestore SYMBOL ss_driver_firestore SOURCES src/stores/firestore.c PKG libcurl jansson libcrypto)
ss_driver(cosmosdb SYMBOL ss_driver_cosmosdb SOURCES src/stores/cosmosdb.c PKG libcurl jansson libcrypto)
ss_driver(azure_table SYMBOL ss_driver_azure_table SOURCES src/stores/azure_table.c PKG libcurl jansson libcrypto)
ss_driver(consul SYMBOL ss_driver_consul SOURCES src/stores/consul.c PKG libcurl jansson)
