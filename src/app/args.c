/* SPDX-License-Identifier: MIT */
/*
 * A command's options (plugin.h's weft_args): parsed from argv against the
 * runner's table and the command's, GNU style - --name VALUE, --name=VALUE,
 * -x VALUE, -xVALUE, flags, "--" ending the options - and kept as each
 * option's values in the order given. Also the --help text written from
 * the same tables, so that what is parsed and what is documented are one.
 */
#include <stdio.h>
#include <string.h>

#include "weft/alloc.h"
#include "weft/error.h"
#include "runner_int.h"

typedef struct slot {
    const weft_option *opt;
    const char **values; /* n of them; a flag's are "" */
    size_t n;
} slot;

struct weft_args {
    slot *slots; /* one per option given */
    size_t n;
};

static slot *find_slot(const weft_args *a, const char *name)
{
    for (size_t i = 0; a && i < a->n; i++)
        if (strcmp(a->slots[i].opt->name, name) == 0)
            return &a->slots[i];
    return NULL;
}

const char *weft_args_get(const weft_args *a, const char *name, const char *fallback)
{
    slot *s = find_slot(a, name);
    return s ? s->values[s->n - 1] : fallback;
}

const char *const *weft_args_all(const weft_args *a, const char *name, size_t *n)
{
    slot *s = find_slot(a, name);
    *n = s ? s->n : 0;
    return s ? s->values : NULL;
}

bool weft_args_has(const weft_args *a, const char *name)
{
    return find_slot(a, name) != NULL;
}

static int add_value(weft_args *a, const weft_option *opt, const char *value)
{
    slot *s = find_slot(a, opt->name);
    if (!s) {
        slot *grown = weft_realloc(a->slots, (a->n + 1) * sizeof *grown);
        if (!grown)
            return WEFT_ENOMEM;
        a->slots = grown;
        s = &a->slots[a->n++];
        *s = (slot){opt, NULL, 0};
    }
    const char **values = weft_realloc(s->values, (s->n + 1) * sizeof *values);
    if (!values)
        return WEFT_ENOMEM;
    s->values = values;
    s->values[s->n++] = value;
    return 0;
}

static const weft_option *find_long(const weft_option *const *tables, size_t ntables, const char *name, size_t len)
{
    for (size_t t = 0; t < ntables; t++)
        for (const weft_option *o = tables[t]; o && o->name; o++)
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                return o;
    return NULL;
}

static const weft_option *find_short(const weft_option *const *tables, size_t ntables, char letter)
{
    for (size_t t = 0; t < ntables; t++)
        for (const weft_option *o = tables[t]; o && o->name; o++)
            if (o->letter && o->letter == letter)
                return o;
    return NULL;
}

weft_args *weft__args_new(void)
{
    return weft_calloc(1, sizeof(weft_args));
}

void weft__args_free(weft_args *a)
{
    for (size_t i = 0; a && i < a->n; i++)
        weft_free(a->slots[i].values);
    if (a)
        weft_free(a->slots);
    weft_free(a);
}

int weft__args_parse(weft_args *a, int argc, char **argv, int *at, const weft_option *const *tables,
                     size_t ntables, bool stop_at_word, char *why, size_t size)
{
    int i = *at;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            if (stop_at_word)
                break;
            snprintf(why, size, "unexpected argument '%s'", arg);
            return WEFT_EINVAL;
        }
        const weft_option *o;
        const char *value = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            if (!(o = find_long(tables, ntables, name, len))) {
                snprintf(why, size, "no option '--%.*s'", (int)len, name);
                return WEFT_EINVAL;
            }
            if (eq && !o->value) {
                snprintf(why, size, "--%s takes no value", o->name);
                return WEFT_EINVAL;
            }
            value = eq ? eq + 1 : NULL;
        } else {
            if (!(o = find_short(tables, ntables, arg[1]))) {
                snprintf(why, size, "no option '-%c'", arg[1]);
                return WEFT_EINVAL;
            }
            if (arg[2] && !o->value) {
                snprintf(why, size, "-%c takes no value (flags go one per argument)", arg[1]);
                return WEFT_EINVAL;
            }
            value = arg[2] ? arg + 2 : NULL;
        }
        if (o->value && !value) {
            if (i + 1 == argc) {
                snprintf(why, size, "--%s wants a value (%s)", o->name, o->value);
                return WEFT_EINVAL;
            }
            value = argv[++i];
        }
        if (add_value(a, o, value ? value : "") < 0) {
            snprintf(why, size, "out of memory");
            return WEFT_ENOMEM;
        }
    }
    *at = i;
    return 0;
}

/* Writes `text` from column `col` (the cursor is there), wrapped before
 * column 80 and indented to `indent` on the lines after. */
static void wrap(FILE *out, const char *text, size_t col, size_t indent)
{
    while (*text) {
        size_t word = strcspn(text, " ");
        if (col > indent && col + 1 + word > 79) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)word, text);
        col += word;
        text += word;
        while (*text == ' ')
            text++;
    }
    fputc('\n', out);
}

void weft__args_help(FILE *out, const weft_option *table)
{
    enum { COLUMN = 28 };
    for (const weft_option *o = table; o && o->name; o++) {
        char head[128];
        int n = snprintf(head, sizeof head, "  %c%c%s--%s%s%s", o->letter ? '-' : ' ', o->letter ? o->letter : ' ',
                         o->letter ? ", " : "  ", o->name, o->value ? " " : "", o->value ? o->value : "");
        fputs(head, out);
        size_t col = n > 0 ? (size_t)n : 0;
        if (col + 1 >= COLUMN) {
            fprintf(out, "\n%*s", COLUMN, "");
        } else {
            fprintf(out, "%*s", (int)(COLUMN - col), "");
        }
        wrap(out, o->help, COLUMN, COLUMN);
    }
}

void weft__text_wrap(FILE *out, const char *text)
{
    wrap(out, text, 0, 0);
}
