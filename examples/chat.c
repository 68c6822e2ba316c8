/* SPDX-License-Identifier: MIT */
/*
 * A line chat server: the first line is your nickname, later lines go to
 * everyone as "<nick> text"; "/who" lists who is here; joins and leaves are
 * announced. Twisted's twin: examples/twisted/chat.py.
 *
 *     chat tcp:8123      then: telnet 127.0.0.1 8123
 */
#include <stdarg.h>
#include <string.h>
#include <weft/weft.h>

typedef struct user {
    weft_line_receiver lr;
    struct user *next, **everyone; /* the room's list, newest first */
    char nick[32];                 /* "" until chosen */
} user;

static void broadcast(user *from, const char *fmt, ...)
{
    for (user *u = *from->everyone; u; u = u->next) {
        va_list ap;
        va_start(ap, fmt);
        if (u->nick[0])
            weft_line_receiver_vprintf(&u->lr, fmt, ap);
        va_end(ap);
    }
}

static void line(weft_line_receiver *lr, const char *text, size_t len)
{
    user *u = (user *)lr, *o = *u->everyone;
    len -= len && text[len - 1] == '\r';
    if (u->nick[0] && len == 4 && memcmp(text, "/who", 4) == 0) {
        char who[1024] = "Here:";
        for (; o; o = o->next)
            if (o->nick[0] && strlen(who) + strlen(o->nick) + 2 < sizeof who)
                strcat(strcat(who, " "), o->nick);
        weft_line_receiver_send_line(lr, who, strlen(who));
    } else if (u->nick[0]) {
        broadcast(u, "<%s> %.*s", u->nick, (int)len, text);
    } else {
        while (o && (strlen(o->nick) != len || memcmp(o->nick, text, len)))
            o = o->next;
        if (o || len == 0 || len >= sizeof u->nick) {
            weft_line_receiver_printf(lr, "Taken or empty; another?");
            return;
        }
        memcpy(u->nick, text, len);
        broadcast(u, "* %s joined", u->nick);
    }
}

static void left(weft_line_receiver *lr, const weft_failure *why)
{
    user *u = (user *)lr, **p = u->everyone;
    (void)why;
    while (*p != u)
        p = &(*p)->next;
    *p = u->next;
    if (u->nick[0])
        broadcast(u, "* %s left", u->nick);
}

static const weft_line_receiver_ops chat_ops = {.line_received = line, .connection_lost = left};

static void join(weft_protocol *p, void *everyone)
{
    user *u = (user *)p;
    weft_line_receiver_init(&u->lr, &chat_ops);
    weft_line_receiver_set_delimiter(&u->lr, "\n", 1);
    u->everyone = everyone;
    u->next = *u->everyone;
    *u->everyone = u;
}

static weft_result serve(weft_reactor *r, int argc, char **argv)
{
    user *everyone = NULL;
    weft_protocol_factory room = WEFT_PROTOCOL_FACTORY(user, join, &everyone);
    weft_result port = weft_await(weft_listen_on(r, argc > 1 ? argv[1] : "tcp:8123", &room.base));
    if (!weft_failed(port))
        weft_await(weft_reactor_when_stopped(r));
    return port;
}

int main(int argc, char **argv)
{
    return weft_react(serve, argc, argv);
}
