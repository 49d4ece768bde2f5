/* abi1_driver.h — what abi1_driver.c (built against driver ABI 1) offers test_abi.c. Only the
 * public header here: the two files see different ss_op layouts and must share none. */
#ifndef SS_UNIT_ABI1_DRIVER_H
#define SS_UNIT_ABI1_DRIVER_H

#include <statestore.h>

/* Registers the ABI 1 driver as "abi1". */
ss_code abi1_register(ss_error *err);
/* Registers a copy named `name` that claims ABI `abi`. */
ss_code abi1_register_as(const char *name, unsigned abi, ss_error *err);

/* Every op the driver was handed since the last clear: "slot kind key/key_len/value_len;". */
const char *abi1_seen(void);
void abi1_seen_clear(void);

#endif
