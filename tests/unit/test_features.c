/* test_features.c — per-instance features: a driver's features slot narrows what it declared,
 * the core validates against the narrowed set, and nothing undeclared can be added. */
#include "check.h"
#include "testdrv.h"

/* Narrows the recorder: no TTL, a 2-op transaction limit, and tries to add BULK_NATIVE,
 * which the driver never declared (and has no bulk slots for). */
static void narrow(void *self, ss_features *out)
{
    out->flags &= ~(unsigned)SS_FEATURE_TTL;
    out->flags |= SS_FEATURE_BULK_NATIVE;
    out->max_tx_ops = 2;
    out->max_key_len = 4;
    out->max_value_len = 0;
}

static ss_driver narrowed;

int main(void)
{
    narrowed = td_rec;
    narrowed.info.name = "narrowed";
    narrowed.info.aliases = NULL;
    narrowed.features = narrow;
    ss_error err = {0};
    CHECK_RC(ss_register_driver(&narrowed, &err), SS_OK, &err);

    /* The driver's static description is unchanged... */
    ss_driver_info info;
    CHECK(ss_driver_find("narrowed", &info));
    CHECK(info.features.flags & SS_FEATURE_TTL);
    CHECK(info.features.max_tx_ops == 3);

    /* ...but the open instance reports and enforces the narrowed set. */
    ss_pair props[] = {{"host", "localhost"}};
    ss_config cfg = {.driver = "narrowed", .properties = props, .property_count = 1};
    ss_store *s = NULL;
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    if (!s) return 1;
    ss_features f;
    ss_store_features(s, &f);
    CHECK(!(f.flags & SS_FEATURE_TTL));
    CHECK(!(f.flags & SS_FEATURE_BULK_NATIVE)); /* undeclared: never added */
    CHECK(f.flags & SS_FEATURE_ETAG);
    CHECK(f.max_tx_ops == 2);
    CHECK(f.max_key_len == 4);

    ss_pair ttl[] = {{SS_META_TTL, "5"}};
    ss_set_request set = {
        .key = "k", .value = "v", .value_len = 1, .metadata = ttl, .metadata_count = 1};
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_UNSUPPORTED, &err);

    set.metadata_count = 0;
    set.key = "kkkkk";
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_TOO_LARGE, &err);
    /* max_value_len 0 now means no limit (the driver declared 8). */
    set.key = "k";
    set.value = "0123456789";
    set.value_len = 10;
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_OK, &err);

    ss_operation ops[3] = {
        {.kind = SS_OP_DELETE, .del = {.key = "a"}},
        {.kind = SS_OP_DELETE, .del = {.key = "b"}},
        {.kind = SS_OP_DELETE, .del = {.key = "c"}},
    };
    ss_transaction tx = {.ops = ops, .count = 3};
    CHECK_RC(ss_transact(s, &tx, &err), SS_TOO_LARGE, &err);
    tx.count = 2;
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    ss_close(s);

    return check_done("test_features");
}
