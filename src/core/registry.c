/* registry.c — the built-in drivers of this build plus those added with ss_register_driver. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ss_build_config.h"

#define SS_X_DECLARE(sym) extern const ss_driver sym;
SS_BUILTIN_DRIVERS(SS_X_DECLARE)
#undef SS_X_DECLARE

#define SS_X_POINTER(sym) &sym,
static const ss_driver *const builtins[] = {SS_BUILTIN_DRIVERS(SS_X_POINTER) NULL};
#undef SS_X_POINTER

#define BUILTIN_COUNT (sizeof builtins / sizeof builtins[0] - 1)

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const ss_driver **added;
static size_t added_count;
static size_t added_cap;

/* Caller holds reg_lock (or reads builtins only). */
static const ss_driver *driver_at_locked(size_t i)
{
    if (i < BUILTIN_COUNT) return builtins[i];
    i -= BUILTIN_COUNT;
    return i < added_count ? added[i] : NULL;
}

static bool driver_answers_to(const ss_driver *d, const char *name)
{
    if (d->info.name && strcasecmp(d->info.name, name) == 0) return true;
    for (const char *const *a = d->info.aliases; a && *a; a++)
        if (strcasecmp(*a, name) == 0) return true;
    return false;
}

static const char *strip_prefix(const char *name)
{
    /* Dapr component types read "state.redis"; the part after it is the driver. */
    if (strncasecmp(name, "state.", 6) == 0) return name + 6;
    return name;
}

const ss_driver *ss_registry_find(const char *name)
{
    if (!name || !*name) return NULL;
    name = strip_prefix(name);
    const ss_driver *found = NULL;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; !found && i < BUILTIN_COUNT + added_count; i++) {
        const ss_driver *d = driver_at_locked(i);
        if (d && driver_answers_to(d, name)) found = d;
    }
    pthread_mutex_unlock(&reg_lock);
    return found;
}

size_t ss_driver_count(void)
{
    pthread_mutex_lock(&reg_lock);
    size_t n = BUILTIN_COUNT + added_count;
    pthread_mutex_unlock(&reg_lock);
    return n;
}

const ss_driver *ss_registry_at(size_t index)
{
    pthread_mutex_lock(&reg_lock);
    const ss_driver *d = driver_at_locked(index);
    pthread_mutex_unlock(&reg_lock);
    return d;
}

bool ss_driver_at(size_t index, ss_driver_info *out)
{
    pthread_mutex_lock(&reg_lock);
    const ss_driver *d = driver_at_locked(index);
    pthread_mutex_unlock(&reg_lock);
    if (!d) {
        if (out) memset(out, 0, sizeof *out);
        return false;
    }
    if (out) *out = d->info;
    return true;
}

bool ss_driver_find(const char *name, ss_driver_info *out)
{
    const ss_driver *d = ss_registry_find(name);
    if (!d) {
        if (out) memset(out, 0, sizeof *out);
        return false;
    }
    if (out) *out = d->info;
    return true;
}

const char *ss_feature_name(unsigned feature_bit)
{
    switch (feature_bit) {
#define SS_X_CASE(name, bit, dapr, text)                                                           \
    case SS_FEATURE_##name:                                                                        \
        return #name;
        SS_FEATURE_MAP(SS_X_CASE)
#undef SS_X_CASE
    default:
        return "UNKNOWN";
    }
}

ss_code ss_driver_check(const ss_driver *d, ss_error *err)
{
    if (!d) return ss_error_set(err, SS_INVALID, "register driver: driver is NULL");
    const char *name = d->info.name;
    if (!name || !*name)
        return ss_error_set(err, SS_INVALID, "register driver: driver has no name");
    if (!ss_abi_served(d->abi))
        return ss_error_set(
            err, SS_INVALID,
            "register driver \"%s\": built for driver ABI %u, but this library "
            "serves ABIs %u to %u (%s); rebuild it against this statestore/driver.h",
            name, d->abi, (unsigned)SS_DRIVER_ABI_MIN, (unsigned)SS_DRIVER_ABI,
            d->abi > SS_DRIVER_ABI ? "the driver is newer than this library"
                                   : "older than any this library still serves");
    if (strncasecmp(name, "state.", 6) == 0)
        return ss_error_set(err, SS_INVALID,
                            "register driver \"%s\": name must not start with \"state.\"", name);
    if (!d->open || !d->close || !d->get || !d->set || !d->del)
        return ss_error_set(err, SS_INVALID,
                            "register driver \"%s\": open, close, get, set and del are required",
                            name);
    unsigned f = d->info.features.flags;
#define SS_X_BIT(name, bit, dapr, text) | SS_FEATURE_##name
    const unsigned known = 0u SS_FEATURE_MAP(SS_X_BIT);
#undef SS_X_BIT
    if (f & ~known)
        return ss_error_set(err, SS_INVALID, "register driver \"%s\": unknown feature bits 0x%x",
                            name, f & ~known);
    bool tx_flag = (f & SS_FEATURE_TRANSACTIONAL) != 0;
    if (tx_flag != (d->transact != NULL))
        return ss_error_set(err, SS_INVALID, "register driver \"%s\": %s", name,
                            tx_flag ? "declares TRANSACTIONAL but has no transact slot"
                                    : "has a transact slot but does not declare TRANSACTIONAL");
    if ((f & SS_FEATURE_BULK_NATIVE) && !d->bulk_get && !d->bulk_set && !d->bulk_delete)
        return ss_error_set(err, SS_INVALID,
                            "register driver \"%s\": declares BULK_NATIVE but has no bulk slot",
                            name);
    if (d->info.property_count > 0 && !d->info.properties)
        return ss_error_set(err, SS_INVALID,
                            "register driver \"%s\": property_count is %zu but properties is NULL",
                            name, d->info.property_count);
    for (size_t i = 0; i < d->info.property_count; i++)
        if (!d->info.properties[i].name || !*d->info.properties[i].name)
            return ss_error_set(err, SS_INVALID, "register driver \"%s\": property %zu has no name",
                                name, i);
    return SS_OK;
}

/* Caller holds reg_lock. Returns the clashing name, or NULL. */
static const char *name_clash_locked(const ss_driver *d)
{
    for (size_t i = 0; i < BUILTIN_COUNT + added_count; i++) {
        const ss_driver *o = driver_at_locked(i);
        if (!o) continue;
        if (o == d) return d->info.name;
        if (driver_answers_to(o, d->info.name)) return d->info.name;
        for (const char *const *a = d->info.aliases; a && *a; a++)
            if (driver_answers_to(o, *a)) return *a;
    }
    return NULL;
}

ss_code ss_register_driver(const ss_driver *driver, ss_error *err)
{
    ss_code rc = ss_driver_check(driver, err);
    if (rc != SS_OK) return rc;
    pthread_mutex_lock(&reg_lock);
    const char *clash = name_clash_locked(driver);
    if (clash) {
        pthread_mutex_unlock(&reg_lock);
        return ss_error_set(err, SS_INVALID,
                            "register driver \"%s\": the name \"%s\" is already taken",
                            driver->info.name, clash);
    }
    if (added_count == added_cap) {
        size_t cap = added_cap ? added_cap * 2 : 8;
        const ss_driver **grown = realloc(added, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&reg_lock);
            return ss_error_set(err, SS_NOMEM, "register driver \"%s\": out of memory",
                                driver->info.name);
        }
        added = grown;
        added_cap = cap;
    }
    added[added_count++] = driver;
    pthread_mutex_unlock(&reg_lock);
    return SS_OK;
}
