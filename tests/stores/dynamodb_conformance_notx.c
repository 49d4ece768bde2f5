/*
 * The whole conformance suite against dynalite, which has no TransactWriteItems: the driver is
 * registered a second time as "aws.dynamodb.dynalite" without the transact slot and without
 * SS_FEATURE_TRANSACTIONAL, so the suite skips the transaction cases (visibly) and runs every
 * other path of the cases that also use transactions (keys-special, value-empty, race-etag,
 * ttl-expiry, ...). Transactions themselves are tested in dynamodb_test.c against the shapes of
 * AWS's API reference. Arguments are ss_conformance's.
 */
#include "conformance/conformance.h"
#include "statestore/driver.h"

#include <stdio.h>

extern const ss_driver ss_driver_dynamodb;

int main(int argc, char **argv)
{
    static ss_driver variant;
    variant = ss_driver_dynamodb;
    variant.info.name = "aws.dynamodb.dynalite";
    variant.info.aliases = NULL;
    variant.info.features.flags &= ~(unsigned)SS_FEATURE_TRANSACTIONAL;
    variant.info.features.max_tx_ops = 0;
    variant.transact = NULL;
    ss_error err;
    if (ss_register_driver(&variant, &err) != SS_OK) {
        fprintf(stderr, "cannot register the variant: %s\n", err.message);
        return 1;
    }
    return cf_main(argc, argv);
}
