/* SPDX-License-Identifier: MIT */
/*
 * The logger: namespace levels, observers, and the text and JSON renderings.
 * Observers may add or remove observers and emit events while being called;
 * removal then only marks the entry, and the array is compacted once the
 * outermost emit returns.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "weft/alloc.h"
#include "weft/error.h"
#include "weft/log.h"

typedef struct observer {
    weft_log_observer_fn fn; /* NULL once removed during an emit */
    void *arg;
    weft_log_level min_level;
    bool busy; /* being called now: events it emits skip it */
    char *prefix;
} observer;

typedef struct level_rule {
    char *ns;
    weft_log_level level;
} level_rule;

struct weft_logger {
    observer *obs;
    size_t nobs, cap_obs;
    level_rule *rules;
    size_t nrules;
    weft_log_level default_level;
    int depth;     /* nested emits in progress */
    bool removed;  /* an observer was removed during an emit */
};

weft_logger *weft_logger_new(void)
{
    weft_logger *lg = weft_calloc(1, sizeof *lg);
    if (!lg)
        return NULL;
    lg->default_level = WEFT_LOG_INFO;
    if (weft_logger_add_observer(lg, weft_log_text_observer, stderr, WEFT_LOG_DEBUG, NULL) < 0) {
        weft_free(lg);
        return NULL;
    }
    return lg;
}

void weft_logger_free(weft_logger *lg)
{
    if (!lg)
        return;
    for (size_t i = 0; i < lg->nobs; i++)
        weft_free(lg->obs[i].prefix);
    for (size_t i = 0; i < lg->nrules; i++)
        weft_free(lg->rules[i].ns);
    weft_free(lg->obs);
    weft_free(lg->rules);
    weft_free(lg);
}

/* Whether ns is `prefix` or lies below it ("a.b" covers "a.b.c", not "a.bc"). */
static bool ns_under(const char *ns, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 0)
        return true;
    return strncmp(ns, prefix, n) == 0 && (ns[n] == '\0' || ns[n] == '.');
}

int weft_logger_add_observer(weft_logger *lg, weft_log_observer_fn fn, void *arg, weft_log_level min_level,
                             const char *ns_prefix)
{
    char *prefix = weft_strdup(ns_prefix ? ns_prefix : "");
    if (!prefix)
        return WEFT_ENOMEM;
    for (size_t i = 0; i < lg->nobs; i++) {
        if (lg->obs[i].fn == fn && lg->obs[i].arg == arg) {
            weft_free(lg->obs[i].prefix);
            lg->obs[i].prefix = prefix;
            lg->obs[i].min_level = min_level;
            return 0;
        }
    }
    if (lg->nobs == lg->cap_obs) {
        size_t cap = lg->cap_obs ? lg->cap_obs * 2 : 4;
        observer *o = weft_realloc(lg->obs, cap * sizeof *o);
        if (!o) {
            weft_free(prefix);
            return WEFT_ENOMEM;
        }
        lg->obs = o;
        lg->cap_obs = cap;
    }
    lg->obs[lg->nobs++] = (observer){fn, arg, min_level, false, prefix};
    return 0;
}

static void compact(weft_logger *lg)
{
    size_t j = 0;
    for (size_t i = 0; i < lg->nobs; i++) {
        if (lg->obs[i].fn)
            lg->obs[j++] = lg->obs[i];
        else
            weft_free(lg->obs[i].prefix);
    }
    lg->nobs = j;
    lg->removed = false;
}

int weft_logger_remove_observer(weft_logger *lg, weft_log_observer_fn fn, void *arg)
{
    for (size_t i = 0; i < lg->nobs; i++) {
        if (lg->obs[i].fn == fn && lg->obs[i].arg == arg) {
            lg->obs[i].fn = NULL;
            lg->removed = true;
            if (lg->depth == 0)
                compact(lg);
            return 0;
        }
    }
    return WEFT_ENOENT;
}

int weft_logger_set_level(weft_logger *lg, const char *ns, weft_log_level level)
{
    if (!ns || !*ns) {
        lg->default_level = level;
        return 0;
    }
    for (size_t i = 0; i < lg->nrules; i++) {
        if (strcmp(lg->rules[i].ns, ns) == 0) {
            lg->rules[i].level = level;
            return 0;
        }
    }
    char *copy = weft_strdup(ns);
    level_rule *r = copy ? weft_realloc(lg->rules, (lg->nrules + 1) * sizeof *r) : NULL;
    if (!r) {
        weft_free(copy);
        return WEFT_ENOMEM;
    }
    lg->rules = r;
    lg->rules[lg->nrules++] = (level_rule){copy, level};
    return 0;
}

/* The level of the longest rule covering ns, else the default. */
static weft_log_level level_for(const weft_logger *lg, const char *ns)
{
    weft_log_level level = lg->default_level;
    size_t best = 0;
    for (size_t i = 0; i < lg->nrules; i++) {
        size_t n = strlen(lg->rules[i].ns);
        if (n > best && ns_under(ns, lg->rules[i].ns)) {
            best = n;
            level = lg->rules[i].level;
        }
    }
    return level;
}

bool weft_logger_enabled(const weft_logger *lg, weft_log_level level, const char *ns)
{
    return lg && lg->nobs > 0 && level >= level_for(lg, ns ? ns : "");
}

void weft_logger_emit(weft_logger *lg, weft_log_level level, const char *ns, const char *format,
                      const weft_log_field *fields, size_t nfields)
{
    if (!lg)
        return;
    ns = ns ? ns : "";
    if (level < level_for(lg, ns))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    weft_log_event ev = {
        .time = (double)ts.tv_sec + ts.tv_nsec / 1e9,
        .level = level,
        .ns = ns,
        .format = format ? format : "",
        .fields = fields,
        .nfields = fields ? nfields : 0,
    };
    lg->depth++;
    /* Observers added during the emit are not called for this event. */
    size_t n = lg->nobs;
    for (size_t i = 0; i < n; i++) {
        observer *o = &lg->obs[i];
        if (!o->fn || o->busy || level < o->min_level || !ns_under(ns, o->prefix))
            continue;
        o->busy = true;
        o->fn(o->arg, &ev);
        lg->obs[i].busy = false; /* the array may have moved */
    }
    if (--lg->depth == 0 && lg->removed)
        compact(lg);
}

const char *weft_log_level_name(weft_log_level level)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "critical"};
    return (unsigned)level < sizeof names / sizeof names[0] ? names[level] : "unknown";
}

/* ---- rendering ---- */

/* snprintf-style appends: `len` counts every byte asked for, `buf` holds what
 * fits, always NUL-terminated when size > 0. */
typedef struct sbuf {
    char *buf;
    size_t size, len;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + 1 < b->size) {
        size_t room = b->size - 1 - b->len;
        memcpy(b->buf + b->len, s, n < room ? n : room);
    }
    b->len += n;
    if (b->size)
        b->buf[b->len < b->size ? b->len : b->size - 1] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

WEFT_PRINTF(2, 3) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void sb_value(sbuf *b, const weft_log_field *f)
{
    switch (f->type) {
    case WEFT_LOG_T_STR:
        sb_str(b, f->v.s ? f->v.s : "(null)");
        break;
    case WEFT_LOG_T_INT:
        sb_printf(b, "%" PRId64, f->v.i);
        break;
    case WEFT_LOG_T_UINT:
        sb_printf(b, "%" PRIu64, f->v.u);
        break;
    case WEFT_LOG_T_DOUBLE:
        sb_printf(b, "%.15g", f->v.d);
        break;
    case WEFT_LOG_T_BOOL:
        sb_str(b, f->v.b ? "true" : "false");
        break;
    case WEFT_LOG_T_PTR:
        sb_printf(b, "%p", f->v.p);
        break;
    }
}

static const weft_log_field *find_field(const weft_log_event *ev, const char *name, size_t n)
{
    for (size_t i = 0; i < ev->nfields; i++) {
        const char *k = ev->fields[i].key;
        if (k && strlen(k) == n && memcmp(k, name, n) == 0)
            return &ev->fields[i];
    }
    return NULL;
}

static void sb_format(sbuf *b, const weft_log_event *ev)
{
    const char *p = ev->format;
    while (*p) {
        const char *brace = strpbrk(p, "{}");
        if (!brace) {
            sb_str(b, p);
            break;
        }
        sb_put(b, p, (size_t)(brace - p));
        p = brace;
        if (p[0] == p[1]) { /* "{{" or "}}" */
            sb_put(b, p, 1);
            p += 2;
            continue;
        }
        /* A field name is letters, digits, '_', '.' or '-' between braces;
         * any other brace renders as itself. */
        const char *close = NULL;
        if (p[0] == '{') {
            close = p + 1 + strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
            if (*close != '}' || close == p + 1)
                close = NULL;
        }
        if (!close) {
            sb_put(b, p, 1);
            p++;
            continue;
        }
        const weft_log_field *f = find_field(ev, p + 1, (size_t)(close - p - 1));
        if (f) {
            sb_value(b, f);
        } else {
            sb_put(b, p, (size_t)(close - p));
            sb_str(b, "?}");
        }
        p = close + 1;
    }
}

size_t weft_log_format(const weft_log_event *ev, char *buf, size_t size)
{
    sbuf b = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    sb_format(&b, ev);
    return b.len;
}

static void sb_time(sbuf *b, double t)
{
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char tmp[64];
    int ms = (int)((t - (double)secs) * 1000);
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms < 0 ? 0 : ms > 999 ? 999 : ms);
    sb_str(b, tmp);
}

static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            sb_put(b, esc, 2);
        } else if (c == '\n') {
            sb_str(b, "\\n");
        } else if (c == '\t') {
            sb_str(b, "\\t");
        } else if (c == '\r') {
            sb_str(b, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            sb_printf(b, "\\u%04x", c);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/*
 * Renders one line with `render` into a stack buffer, or a heap buffer when
 * the line is longer, and writes it in one call so that lines from several
 * processes sharing a file do not interleave.
 */
static void write_line(FILE *f, const weft_log_event *ev, void (*render)(sbuf *, const weft_log_event *))
{
    char stack[1024];
    sbuf b = {stack, sizeof stack, 0};
    render(&b, ev);
    char *out = stack;
    if (b.len >= sizeof stack) {
        out = weft_malloc(b.len + 1);
        if (out) {
            b = (sbuf){out, b.len + 1, 0};
            render(&b, ev);
        } else {
            out = stack; /* truncated beats lost */
            b.len = sizeof stack - 1;
        }
    }
    fwrite(out, 1, b.len, f);
    fflush(f);
    if (out != stack)
        weft_free(out);
}

static void render_text(sbuf *b, const weft_log_event *ev)
{
    sb_time(b, ev->time);
    sb_str(b, " [");
    sb_str(b, ev->ns);
    sb_str(b, "#");
    sb_str(b, weft_log_level_name(ev->level));
    sb_str(b, "] ");
    sb_format(b, ev);
    sb_str(b, "\n");
}

void weft_log_text_observer(void *file, const weft_log_event *ev)
{
    write_line(file, ev, render_text);
}

static void render_json(sbuf *b, const weft_log_event *ev)
{
    sb_printf(b, "{\"time\":%.6f,\"level\":", ev->time);
    sb_json_string(b, weft_log_level_name(ev->level));
    sb_str(b, ",\"namespace\":");
    sb_json_string(b, ev->ns);
    sb_str(b, ",\"format\":");
    sb_json_string(b, ev->format);
    /* The rendered text is built in a nested buffer: it needs escaping. */
    size_t need = weft_log_format(ev, NULL, 0);
    char stack[512];
    char *text = need < sizeof stack ? stack : weft_malloc(need + 1);
    sb_str(b, ",\"text\":");
    if (text) {
        weft_log_format(ev, text, need + 1);
        sb_json_string(b, text);
        if (text != stack)
            weft_free(text);
    } else {
        sb_str(b, "null");
    }
    for (size_t i = 0; i < ev->nfields; i++) {
        const weft_log_field *f = &ev->fields[i];
        if (!f->key)
            continue;
        sb_put(b, ",", 1);
        sb_json_string(b, f->key);
        sb_put(b, ":", 1);
        switch (f->type) {
        case WEFT_LOG_T_STR:
            if (f->v.s)
                sb_json_string(b, f->v.s);
            else
                sb_str(b, "null");
            break;
        case WEFT_LOG_T_DOUBLE:
            /* JSON has no NaN or infinity. */
            if (f->v.d == f->v.d && f->v.d - f->v.d == 0)
                sb_value(b, f);
            else
                sb_str(b, "null");
            break;
        case WEFT_LOG_T_PTR:
            sb_put(b, "\"", 1);
            sb_value(b, f);
            sb_put(b, "\"", 1);
            break;
        default:
            sb_value(b, f);
        }
    }
    sb_str(b, "}\n");
}

void weft_log_json_observer(void *file, const weft_log_event *ev)
{
    write_line(file, ev, render_json);
}
