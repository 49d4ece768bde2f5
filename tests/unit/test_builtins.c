/*
 * test_builtins.c — every driver compiled into this build passes the checks ss_register_driver
 * makes (ABI, required slots, features agreeing with slots, property table), no two answer to
 * the same name, and each one's declared properties are well formed.
 */
#include <strings.h>

#include "check.h"
#include "core/internal.h"

static bool answers(const ss_driver *d, const char *name)
{
    if (strcasecmp(d->info.name, name) == 0) return true;
    for (const char *const *a = d->info.aliases; a && *a; a++)
        if (strcasecmp(*a, name) == 0) return true;
    return false;
}

int main(void)
{
    size_t n = ss_driver_count();
    CHECK(n >= 1);
    bool memory = false;
    for (size_t i = 0; i < n; i++) {
        const ss_driver *d = ss_registry_at(i);
        CHECK(d != NULL);
        if (!d) continue;
        ss_error err = {0};
        ss_code rc = ss_driver_check(d, &err);
        if (rc != SS_OK) fprintf(stderr, "built-in driver %zu: %s\n", i, err.message);
        CHECK(rc == SS_OK);
        if (rc != SS_OK) continue;
        if (strcmp(d->info.name, "memory") == 0) memory = true;
        CHECK(d->info.version && *d->info.version);
        CHECK(d->info.summary && *d->info.summary);
        for (size_t j = 0; j < d->info.property_count; j++) {
            const ss_property *p = &d->info.properties[j];
            if (!p->doc || !*p->doc)
                fprintf(stderr, "%s: property %s has no doc\n", d->info.name, p->name);
            CHECK(p->doc && *p->doc);
            for (size_t k = j + 1; k < d->info.property_count; k++)
                CHECK(strcasecmp(p->name, d->info.properties[k].name) != 0);
        }
        for (size_t k = 0; k < i; k++) {
            const ss_driver *o = ss_registry_at(k);
            if (!o) continue;
            bool clash = answers(o, d->info.name);
            for (const char *const *a = d->info.aliases; a && *a; a++) clash |= answers(o, *a);
            if (clash)
                fprintf(stderr, "drivers %s and %s share a name\n", o->info.name, d->info.name);
            CHECK(!clash);
        }
        ss_driver_info info;
        CHECK(ss_driver_at(i, &info) && strcmp(info.name, d->info.name) == 0);
        CHECK(ss_driver_find(d->info.name, NULL));
        printf("built-in driver %-12s features 0x%02x ok\n", d->info.name, d->info.features.flags);
    }
    CHECK(memory);
    CHECK(ss_registry_at(n) == NULL);
    return check_done("test_builtins");
}
