/* SPDX-License-Identifier: MIT */
/*
 * The reference of endpoint strings (weft_endpoint_help, printed by
 * `weft --help-endpoints`), written from the table of kinds the parser
 * uses: a parameter cannot be accepted without being documented, nor
 * documented with another default than the one it has.
 */
#include <string.h>

#include "endpoint_int.h"

static const char intro[] =
    "Endpoint strings say where to listen (servers) and where to connect (clients),\n"
    "as Twisted's serverFromString and clientFromString do:\n"
    "\n"
    "    KIND:VALUE:...:NAME=VALUE:...\n"
    "\n"
    "A parameter is given by name (NAME=VALUE), or by its place: the first fields\n"
    "without a name fill the parameters listed \"by position\", in that order. A '\\'\n"
    "takes the next character as it is, so a ':' in a value is written '\\:'\n"
    "(unix:/tmp/a\\:b is the path /tmp/a:b; tcp6:80:interface=\\:\\:1). Kind names\n"
    "ignore case, parameter names do not.\n";

enum { NAME_COLUMN = 22 };

/* Whether kind i has been written already, as another name of an earlier
 * kind with the same parameters (ssl for tls). */
static bool is_alias(size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (weft__ep_kinds[j]->params == weft__ep_kinds[i]->params &&
            weft__ep_kinds[j]->server == weft__ep_kinds[i]->server)
            return true;
    return false;
}

static void out_kind(weft__ep_out *o, size_t i)
{
    const weft__ep_kind *k = weft__ep_kinds[i];
    weft__ep_out_fmt(o, "\n%s", k->name);
    for (size_t j = i + 1; j < weft__ep_nkinds; j++)
        if (weft__ep_kinds[j]->params == k->params && weft__ep_kinds[j]->server == k->server)
            weft__ep_out_fmt(o, ", %s", weft__ep_kinds[j]->name);
    weft__ep_out_fmt(o, ": %s\n    e.g. %s\n    by position:", k->summary, k->example);
    for (size_t j = 0; j < k->npositional; j++)
        weft__ep_out_fmt(o, "%s%s", j ? ", " : " ", k->params[j].name);
    weft__ep_out_text(o, "\n");
    for (size_t j = 0; j < k->nparams; j++) {
        const weft__ep_param *p = &k->params[j];
        int width = (int)(strlen(p->name) + 1 + strlen(p->value));
        weft__ep_out_fmt(o, "    %s=%s%*s%s\n", p->name, p->value, width < NAME_COLUMN ? NAME_COLUMN - width : 1, "",
                         p->help);
        if (p->dflt)
            weft__ep_out_fmt(o, "    %*sDefault: %s.\n", NAME_COLUMN, "", p->dflt);
        else
            weft__ep_out_fmt(o, "    %*sRequired.\n", NAME_COLUMN, "");
    }
}

size_t weft_endpoint_help(char *buf, size_t size)
{
    weft__ep_out o = {.buf = buf, .size = size};
    if (size)
        buf[0] = '\0';
    weft__ep_out_text(&o, intro);
    for (int server = 1; server >= 0; server--) {
        weft__ep_out_text(&o, server ? "\nSERVERS (--listen)\n" : "\nCLIENTS (--connect, --proxy)\n");
        for (size_t i = 0; i < weft__ep_nkinds; i++)
            if (weft__ep_kinds[i]->server == (server == 1) && !is_alias(i))
                out_kind(&o, i);
    }
    return o.len;
}
