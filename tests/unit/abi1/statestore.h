/*
 * The public header as seen by tests/unit/abi1/statestore/driver.h. Every struct of it that a
 * driver sees (ss_pair, ss_value, ss_results, ss_item_result, ss_features, ss_driver_info,
 * ss_property) has kept its ABI 1 layout, so the current header stands in for the old one.
 */
#include "../../../include/statestore.h"
