/*
 * log.c — statestored's log: logfmt lines on stderr at or above --log-level, and the library's
 * diagnostics routed into them.
 */
#include "daemon.h"

#include <stdio.h>
#include <time.h>

ss_log_level dlog_level = SS_LOG_INFO;

static void vdlog(ss_log_level level, const char *fmt, va_list ap)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* logfmt: one line per event, so quotes, backslashes and line breaks are escaped */
    char esc[4096];
    size_t o = 0;
    for (const char *p = msg; *p && o + 2 < sizeof esc; p++) {
        char ch = *p;
        if (ch == '"' || ch == '\\') {
            esc[o++] = '\\';
            esc[o++] = ch;
        } else {
            esc[o++] = ch == '\n' || ch == '\r' ? ' ' : ch;
        }
    }
    esc[o] = '\0';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    if ((unsigned)level > SS_LOG_DEBUG) level = SS_LOG_DEBUG;
    fprintf(stderr, "time=\"%s.%03ldZ\" level=%s msg=\"%s\"\n", when, ts.tv_nsec / 1000000,
            names[level], esc);
}

void dlog(ss_log_level level, const char *fmt, ...)
{
    if (level > dlog_level) return;
    va_list ap;
    va_start(ap, fmt);
    vdlog(level, fmt, ap);
    va_end(ap);
}

void lib_log(void *ctx, ss_log_level level, const char *message)
{
    dlog(level, "%s", message);
}
