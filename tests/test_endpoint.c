/* SPDX-License-Identifier: MIT */
/* Endpoint strings: what parses and how it describes itself (with the
 * round trip through describe), what is refused and how the message names
 * the bad part, escapes, and real listening and connecting through
 * endpoints over 127.0.0.1, ::1, UNIX paths and abstract names. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/net/endpoint_int.h"
#include "certs.h"
#include "proc.h"
#include "test.h"

/* ---- parsing helpers ---- */

typedef int (*parse_fn)(weft_reactor *, const char *, weft_endpoint **, weft_failure **);

static weft_endpoint *parse_ok(weft_reactor *r, parse_fn parse, const char *s)
{
    weft_endpoint *e = NULL;
    weft_failure *f = NULL;
    int rc = parse(r, s, &e, &f);
    cr_assert_eq(rc, 0, "\"%s\" should parse: %s", s, f ? weft_failure_message(f) : "(no failure)");
    cr_assert_null(f);
    cr_assert_not_null(e);
    return e;
}

/* Parses `in`, checks its description is `want`, and that the description
 * parses back to an equal endpoint with the same description. */
static void check_describe(parse_fn parse, const char *in, const char *want)
{
    weft_reactor *r = weft_test_clock();
    weft_endpoint *e = parse_ok(r, parse, in);
    char got[512];
    size_t n = weft_endpoint_describe(e, got, sizeof got);
    cr_assert_str_eq(got, want, "\"%s\" describes as \"%s\", not \"%s\"", in, got, want);
    cr_assert_eq(n, strlen(want));
    weft_endpoint *again = parse_ok(r, parse, got);
    cr_assert(weft__endpoint_equal(e, again), "\"%s\" does not round-trip through \"%s\"", in, got);
    char got2[512];
    weft_endpoint_describe(again, got2, sizeof got2);
    cr_assert_str_eq(got2, got);
    weft_endpoint_free(again);
    weft_endpoint_free(e);
    weft_reactor_free(r);
}

/* Checks `in` is refused with WEFT_EINVAL and exactly this message. */
static void check_refused(parse_fn parse, const char *in, const char *message)
{
    weft_reactor *r = weft_test_clock();
    weft_endpoint *e = (weft_endpoint *)&e; /* anything but NULL */
    weft_failure *f = NULL;
    int rc = parse(r, in, &e, &f);
    cr_assert_eq(rc, WEFT_EINVAL, "\"%s\" should be refused (got %d)", in, rc);
    cr_assert_null(e, "no endpoint is stored on failure");
    cr_assert_not_null(f);
    cr_assert_eq(weft_failure_code(f), WEFT_EINVAL);
    cr_assert_str_eq(weft_failure_message(f), message, "\"%s\"", in);
    weft_failure_unref(f);
    weft_reactor_free(r);
}

/* ---- servers ---- */

WEFT_TEST(endpoint, tcp_servers)
{
    static const char *const cases[][2] = {
        {"tcp:80", "tcp:80"},
        {"tcp:80:interface=127.0.0.1", "tcp:80:interface=127.0.0.1"},
        {"tcp:1234:backlog=12:interface=10.0.0.1", "tcp:1234:interface=10.0.0.1:backlog=12"},
        /* Positional fields in the order of Twisted's _parseTCP. */
        {"tcp:80:127.0.0.1:5", "tcp:80:interface=127.0.0.1:backlog=5"},
        {"tcp:port=80", "tcp:80"},
        {"tcp:80:", "tcp:80"},
        {"tcp:0", "tcp:0"},
        {"tcp:65535", "tcp:65535"},
        {"tcp:00080", "tcp:80"},
        {"TCP:80", "tcp:80"},
        {"tcp:80:interface=0.0.0.0", "tcp:80"},
        {"tcp:80:backlog=50", "tcp:80"},
        {"tcp:80:interface=", "tcp:80"},
        {"tcp:80:interface=\\:\\:1", "tcp:80:interface=\\:\\:1"},
        {"tcp6:80", "tcp6:80"},
        /* tcp6's positional order is Twisted's too: port, backlog, interface. */
        {"tcp6:80:5:\\:\\:1", "tcp6:80:interface=\\:\\:1:backlog=5"},
        {"tcp6:80:interface=\\:\\:", "tcp6:80"},
        {"tcp6:443:interface=127.0.0.1", "tcp6:443:interface=127.0.0.1"},
        {"tcp6:80:interface=\\:\\:ffff\\:1.2.3.4", "tcp6:80:interface=\\:\\:ffff\\:1.2.3.4"},
        /* A backslash may escape any character, even in the kind. */
        {"\\t\\c\\p:\\8\\0", "tcp:80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_describe(weft_endpoint_server, cases[i][0], cases[i][1]);
}

WEFT_TEST(endpoint, unix_servers)
{
    static const char *const cases[][2] = {
        {"unix:/var/run/finger", "unix:/var/run/finger"},
        {"unix:/var/run/finger:mode=0660", "unix:/var/run/finger:mode=0660"},
        {"unix:/var/run/finger:mode=660", "unix:/var/run/finger:mode=0660"},
        {"unix:/x:mode=0o600:lockfile=0:backlog=7", "unix:/x:mode=0600:lockfile=0:backlog=7"},
        {"unix:/x:lockfile=1:mode=666", "unix:/x"},
        {"unix:/p:0600:10:0", "unix:/p:mode=0600:lockfile=0:backlog=10"},
        {"unix:address=/p", "unix:/p"},
        {"unix:relative.sock", "unix:relative.sock"},
        {"unix:@abstract", "unix:@abstract"},
        {"unix:@abstract:lockfile=0", "unix:@abstract:lockfile=0"},
        /* Twisted's test_escape and test_impliedEscape. */
        {"unix:foo\\:bar\\=baz\\:qux\\\\", "unix:foo\\:bar\\=baz\\:qux\\\\"},
        {"unix:address=foo=bar", "unix:foo\\=bar"},
        {"unix:/tmp/a\\:b", "unix:/tmp/a\\:b"},
        {"unix:@a\\:b\\\\c", "unix:@a\\:b\\\\c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_describe(weft_endpoint_server, cases[i][0], cases[i][1]);
}

/* Twisted's "systemd:domain=INET:index=0" (SystemdEndpointPluginTests), its
 * positional order (domain, index, name), and the socket unit's name. */
WEFT_TEST(endpoint, systemd_servers)
{
    static const char *const cases[][2] = {
        {"systemd:domain=INET:index=0", "systemd:domain=INET:index=0"},
        {"systemd:domain=INET6:index=3", "systemd:domain=INET6:index=3"},
        {"systemd:domain=UNIX:index=1", "systemd:domain=UNIX:index=1"},
        {"systemd:INET:0", "systemd:domain=INET:index=0"},
        {"systemd:index=0", "systemd:index=0"},
        {"systemd:index=007", "systemd:index=7"},
        {"SYSTEMD:domain=unix:index=2", "systemd:domain=UNIX:index=2"},
        {"systemd:name=web", "systemd:name=web"},
        {"systemd:domain=INET:name=web", "systemd:domain=INET:name=web"},
        {"systemd:UNIX:name=a\\=b", "systemd:domain=UNIX:name=a\\=b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_describe(weft_endpoint_server, cases[i][0], cases[i][1]);
}

WEFT_TEST(endpoint, bad_systemd_servers)
{
    char long_name[300] = "systemd:name=";
    memset(long_name + 13, 'a', 256);
    char long_message[700];
    snprintf(long_message, sizeof long_message, "%s: name '%s' must have 1 to 255 characters", long_name,
             long_name + 13);
    const char *const cases[][2] = {
        {"systemd", "systemd: missing index or name"},
        {"systemd:domain=INET", "systemd:domain=INET: missing index or name"},
        {"systemd:index=0:name=web", "systemd:index=0:name=web: give index or name, not both"},
        {"systemd:index=-1", "systemd:index=-1: index '-1' is not a whole number (0 or more)"},
        {"systemd:index=x", "systemd:index=x: index 'x' is not a whole number (0 or more)"},
        {"systemd:index=", "systemd:index=: index '' is not a whole number (0 or more)"},
        {"systemd:index=99999999999", "systemd:index=99999999999: index '99999999999' is not a whole number (0 or more)"},
        {"systemd:domain=INET7:index=0", "systemd:domain=INET7:index=0: domain 'INET7' is not INET, INET6 or UNIX"},
        {"systemd:0", "systemd:0: domain '0' is not INET, INET6 or UNIX (an index is written index=N)"},
        {"systemd:name=", "systemd:name=: name '' must have 1 to 255 characters"},
        {"systemd:name=a\\:b", "systemd:name=a\\:b: name 'a:b' is not a systemd name (printable ASCII, no ':')"},
        {"systemd:name=\x01", "systemd:name=\\x01: name '\\x01' is not a systemd name (printable ASCII, no ':')"},
        {"systemd:index=0:port=80",
         "systemd:index=0:port=80: unknown parameter 'port' (systemd servers take: domain, index, name)"},
        {"systemd:INET:0:web:x",
         "systemd:INET:0:web:x: unexpected positional field 'x' (systemd servers take 3 by position: domain, index, name)"},
        {long_name, long_message},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_refused(weft_endpoint_server, cases[i][0], cases[i][1]);
}

WEFT_TEST(endpoint, escapes_reach_the_address)
{
    weft_reactor *r = weft_test_clock();
    weft_endpoint *e = parse_ok(r, weft_endpoint_server, "unix:/tmp/a\\:b\\\\c\\=d");
    char text[128];
    weft_address_format(&e->addr, text, sizeof text);
    cr_assert_str_eq(text, "unix:/tmp/a:b\\c=d");
    weft_endpoint_free(e);
    e = parse_ok(r, weft_endpoint_client, "unix:@x\\:y");
    weft_address_format(&e->addr, text, sizeof text);
    cr_assert_str_eq(text, "unix:@x:y");
    weft_endpoint_free(e);
    weft_reactor_free(r);
}

/* haproxy: wraps the rest of the string (Twisted's haproxy: prefix); its
 * own parameters come first. */
WEFT_TEST(endpoint, haproxy_servers)
{
    static const char *const cases[][2] = {
        {"haproxy:tcp:8080", "haproxy:tcp:8080"},
        {"HAPROXY:tcp:8080:interface=127.0.0.1", "haproxy:tcp:8080:interface=127.0.0.1"},
        {"haproxy:tcp:80:127.0.0.1:5", "haproxy:tcp:80:interface=127.0.0.1:backlog=5"},
        {"haproxy:headerTimeout=2.5:tcp:80", "haproxy:headerTimeout=2.5:tcp:80"},
        {"haproxy:headerTimeout=5:tcp:80", "haproxy:tcp:80"},
        {"haproxy:systemd:name=web", "haproxy:systemd:name=web"},
        {"haproxy:tcp6:80:interface=\\:\\:1", "haproxy:tcp6:80:interface=\\:\\:1"},
        {"haproxy:unix:/run/a\\:b.sock:mode=0600", "haproxy:unix:/run/a\\:b.sock:mode=0600"},
        {"haproxy:tls:443:k.pem:c.pem", "haproxy:tls:443:privateKey=k.pem:certKey=c.pem"},
        /* By name, the wrapped string escaped as any value. */
        {"haproxy:endpoint=tcp\\:80", "haproxy:tcp:80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_describe(weft_endpoint_server, cases[i][0], cases[i][1]);
    /* The wrapped endpoint listens where it says, with the header first. */
    weft_reactor *r = weft_test_clock();
    weft_endpoint *e = parse_ok(r, weft_endpoint_server, "haproxy:headerTimeout=3:tcp:81:interface=127.0.0.1");
    cr_assert_not_null(e->wrapped);
    cr_assert_eq(e->wrapped->proxy_timeout, 3);
    cr_assert_eq(weft_address_port(&e->addr), 81);
    /* ALPN is the wrapped tls:'s business. */
    weft_endpoint *t = parse_ok(r, weft_endpoint_server, "haproxy:tls:443:k.pem");
    const char *h11 = "http/1.1";
    cr_assert_eq(weft_endpoint_set_alpn(t, &h11, 1), 0);
    cr_assert_eq(t->wrapped->nalpn, 1);
    cr_assert_str_eq(t->wrapped->alpn[0], "http/1.1");
    weft_endpoint_free(t);
    weft_endpoint_free(e);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, bad_haproxy_servers)
{
    static const char *const cases[][2] = {
        {"haproxy", "haproxy: missing the endpoint to wrap (haproxy:tcp:8080)"},
        {"haproxy:headerTimeout=3", "haproxy:headerTimeout=3: missing the endpoint to wrap (haproxy:tcp:8080)"},
        {"haproxy:headerTimeout=0:tcp:80",
         "haproxy:headerTimeout=0:tcp:80: headerTimeout '0' is not a positive number of seconds"},
        /* What is wrong with the wrapped string is said of it. */
        {"haproxy:tcp:80:bogus=1", "tcp:80:bogus=1: unknown parameter 'bogus' (tcp servers take: port, interface, "
                                   "backlog)"},
        {"haproxy:tcp:80:headerTimeout=3", "tcp:80:headerTimeout=3: unknown parameter 'headerTimeout' (tcp servers "
                                           "take: port, interface, backlog)"},
        {"haproxy:nope:80", "nope:80: unknown endpoint type 'nope' (servers: tcp, tcp6, unix, tls, ssl, systemd, haproxy)"},
        {"haproxy:bogus=1:tcp:80", "haproxy:bogus=1:tcp:80: unknown parameter 'bogus' (haproxy servers take: "
                                   "endpoint, headerTimeout)"},
        {"haproxy:endpoint=tcp\\:80:tcp:81", "haproxy:endpoint=tcp\\:80:tcp:81: duplicate parameter 'endpoint'"},
        /* One PROXY header per connection: no nesting, however written
         * (and no recursion as deep as the string is long). */
        {"haproxy:haproxy:tcp:80",
         "haproxy:haproxy:tcp:80: haproxy: cannot wrap haproxy: (one PROXY header per connection)"},
        {"haproxy:endpoint=HAProxy\\:tcp\\:80",
         "haproxy:endpoint=HAProxy\\:tcp\\:80: haproxy: cannot wrap haproxy: (one PROXY header per connection)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_refused(weft_endpoint_server, cases[i][0], cases[i][1]);
    check_refused(weft_endpoint_client, "haproxy:tcp:host=h:port=80",
                  "haproxy:tcp:host=h:port=80: unknown endpoint type 'haproxy' (clients: tcp, unix, tls)");
    char deep[40000] = "";
    for (size_t i = 0; i + 8 < sizeof deep - 16; i += 8)
        memcpy(deep + i, "haproxy:", 8);
    strcat(deep, "tcp:80");
    weft_reactor *r = weft_test_clock();
    weft_endpoint *e = NULL;
    cr_assert_eq(weft_endpoint_server(r, deep, &e, NULL), WEFT_EINVAL);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, bad_servers)
{
    char long_path[300] = "unix:/";
    memset(long_path + 6, 'a', 200);
    char long_message[600];
    snprintf(long_message, sizeof long_message, "%s: path '%s' is too long (at most 107 bytes)", long_path,
             long_path + 5);
    const char *const cases[][2] = {
        {"", "empty endpoint string"},
        {"bogus-type:nothing",
         "bogus-type:nothing: unknown endpoint type 'bogus-type' (servers: tcp, tcp6, unix, tls, ssl, systemd, haproxy)"},
        {"ssl:443", "ssl:443: missing privateKey"},
        {"tcp", "tcp: missing port"},
        {"tcp:backlog=5", "tcp:backlog=5: missing port"},
        {"tcp:abc", "tcp:abc: port 'abc' is not a number"},
        {"tcp:", "tcp:: port '' is not a number"},
        {"tcp:+80", "tcp:+80: port '+80' is not a number"},
        {"tcp: 80", "tcp: 80: port ' 80' is not a number"},
        {"tcp:65536", "tcp:65536: port '65536' is out of range (0-65535)"},
        {"tcp:-1", "tcp:-1: port '-1' is out of range (0-65535)"},
        {"tcp:99999999999999999999999", "tcp:99999999999999999999999: port '99999999999999999999999' is out of range (0-65535)"},
        /* The example in endpoint.h. */
        {"tcp:80:bogus=1", "tcp:80:bogus=1: unknown parameter 'bogus' (tcp servers take: port, interface, backlog)"},
        {"tcp:80:Interface=1.2.3.4",
         "tcp:80:Interface=1.2.3.4: unknown parameter 'Interface' (tcp servers take: port, interface, backlog)"},
        {"tcp:=5", "tcp:=5: unknown parameter '' (tcp servers take: port, interface, backlog)"},
        {"tcp:80:backlog=1:backlog=2", "tcp:80:backlog=1:backlog=2: duplicate parameter 'backlog'"},
        {"tcp:80:127.0.0.1:interface=127.0.0.1", "tcp:80:127.0.0.1:interface=127.0.0.1: duplicate parameter 'interface'"},
        {"tcp:port=80:81", "tcp:port=80:81: duplicate parameter 'port'"},
        {"tcp:80:1.2.3.4:5:6",
         "tcp:80:1.2.3.4:5:6: unexpected positional field '6' (tcp servers take 3 by position: port, interface, backlog)"},
        {"tcp:80:backlog=0", "tcp:80:backlog=0: backlog '0' is not a positive integer"},
        {"tcp:80:backlog=x", "tcp:80:backlog=x: backlog 'x' is not a positive integer"},
        {"tcp:80:backlog=99999999999", "tcp:80:backlog=99999999999: backlog '99999999999' is not a positive integer"},
        {"tcp:80:interface=localhost",
         "tcp:80:interface=localhost: interface 'localhost' is not an IP address"},
        {"tcp:80:interface=1.2.3", "tcp:80:interface=1.2.3: interface '1.2.3' is not an IP address"},
        {"port=80:tcp", "port=80:tcp: the endpoint type must come first, not the parameter 'port'"},
        {"tcp:80\\", "tcp:80\\: a backslash at the end escapes nothing"},
        {"\\", "\\: a backslash at the end escapes nothing"},
        {"tcp:80:interface=\x01\xff", "tcp:80:interface=\\x01\\xff: interface '\\x01\\xff' is not an IP address"},
        {"unix", "unix: missing path"},
        {"unix:", "unix:: empty path"},
        {"unix:address=", "unix:address=: empty path"},
        {"unix:@", "unix:@: empty abstract socket name after '@'"},
        {"unix:/x:mode=999", "unix:/x:mode=999: bad mode '999' (octal permissions such as 0660)"},
        {"unix:/x:mode=0", "unix:/x:mode=0: bad mode '0' (octal permissions such as 0660)"},
        {"unix:/x:mode=", "unix:/x:mode=: bad mode '' (octal permissions such as 0660)"},
        {"unix:/x:mode=0o", "unix:/x:mode=0o: bad mode '0o' (octal permissions such as 0660)"},
        {"unix:/x:mode=17777", "unix:/x:mode=17777: bad mode '17777' (octal permissions such as 0660)"},
        {"unix:/x:lockfile=2", "unix:/x:lockfile=2: bad lockfile '2' (0 or 1)"},
        {"unix:/x:lockfile=yes", "unix:/x:lockfile=yes: bad lockfile 'yes' (0 or 1)"},
        {"unix:/x:path=/y",
         "unix:/x:path=/y: unknown parameter 'path' (unix servers take: address, mode, backlog, lockfile)"},
        {"unix:/x:timeout=3",
         "unix:/x:timeout=3: unknown parameter 'timeout' (unix servers take: address, mode, backlog, lockfile)"},
        {long_path, long_message},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_refused(weft_endpoint_server, cases[i][0], cases[i][1]);
}

/* ---- clients ---- */

WEFT_TEST(endpoint, clients)
{
    static const char *const cases[][2] = {
        {"tcp:example.com:443", "tcp:host=example.com:port=443"},
        {"tcp:host=localhost:port=80:timeout=3", "tcp:host=localhost:port=80:timeout=3"},
        {"tls:host=example.com:port=443", "tls:host=example.com:port=443"},
        /* An IPv6 address has many spellings; the one checked against the
         * certificate is the canonical one (fuzz_endpoint found "::0"
         * describing as "::" but keeping "::0"). */
        {"tls:\\:\\:0:443", "tls:host=\\:\\::port=443"},
        {"tls:host=0\\:0\\:\\:1:port=443", "tls:host=\\:\\:1:port=443"},
        {"tcp:host=127.0.0.1:port=80", "tcp:host=127.0.0.1:port=80"},
        {"tcp:127.0.0.1:80", "tcp:host=127.0.0.1:port=80"},
        /* One positional field is whichever of host and port is missing. */
        {"tcp:host=127.0.0.1:80", "tcp:host=127.0.0.1:port=80"},
        {"tcp:127.0.0.1:port=80", "tcp:host=127.0.0.1:port=80"},
        {"tcp:port=80:127.0.0.1", "tcp:host=127.0.0.1:port=80"},
        {"TCP:1.2.3.4:80", "tcp:host=1.2.3.4:port=80"},
        {"tcp:\\:\\:1:443:timeout=2.5", "tcp:host=\\:\\:1:port=443:timeout=2.5"},
        {"tcp:10.0.0.1:80:bindAddress=192.0.2.100:timeout=9",
         "tcp:host=10.0.0.1:port=80:timeout=9:bindAddress=192.0.2.100"},
        {"tcp:host=\\:\\:1:port=80:bindAddress=\\:\\:1", "tcp:host=\\:\\:1:port=80:bindAddress=\\:\\:1"},
        {"tcp:10.0.0.1:80:timeout=30", "tcp:host=10.0.0.1:port=80"},
        {"tcp:10.0.0.1:80:timeout=30.0", "tcp:host=10.0.0.1:port=80"},
        {"tcp:10.0.0.1:80:timeout=0.1", "tcp:host=10.0.0.1:port=80:timeout=0.1"},
        {"tcp:10.0.0.1:80:timeout=.25", "tcp:host=10.0.0.1:port=80:timeout=0.25"},
        {"tcp:10.0.0.1:80:timeout=1e-5", "tcp:host=10.0.0.1:port=80:timeout=1e-05"},
        {"tcp:10.0.0.1:80:timeout=1e20", "tcp:host=10.0.0.1:port=80:timeout=1e+20"},
        {"tcp:10.0.0.1:80:timeout=120", "tcp:host=10.0.0.1:port=80:timeout=120"},
        {"tcp:10.0.0.1:80:bindAddress=", "tcp:host=10.0.0.1:port=80"},
        {"tcp:10.0.0.1:65535", "tcp:host=10.0.0.1:port=65535"},
        {"unix:path=/var/foo/bar", "unix:path=/var/foo/bar"},
        {"unix:/var/foo/bar", "unix:path=/var/foo/bar"},
        {"unix:/var/foo/bar:timeout=9", "unix:path=/var/foo/bar:timeout=9"},
        {"unix:@name", "unix:path=@name"},
        {"unix:path=a\\:b\\\\c=d", "unix:path=a\\:b\\\\c\\=d"},
        {"UNIX:path=/x", "unix:path=/x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_describe(weft_endpoint_client, cases[i][0], cases[i][1]);
}

WEFT_TEST(endpoint, bad_clients)
{
    static const char *const cases[][2] = {
        {"tcp:host=[\\:\\:1]:port=80",
         "tcp:host=[\\:\\:1]:port=80: host '[::1]': write IPv6 addresses without brackets, escaping their colons"},
        {"tcp", "tcp: missing host"},
        {"tcp:port=80", "tcp:port=80: missing host"},
        {"tcp:host=1.2.3.4", "tcp:host=1.2.3.4: missing port"},
        {"tcp:1.2.3.4", "tcp:1.2.3.4: missing port"},
        {"tcp::80", "tcp::80: empty host"},
        {"tcp:1.2.3.4:0", "tcp:1.2.3.4:0: port '0' is out of range (1-65535)"},
        {"tcp:1.2.3.4:http", "tcp:1.2.3.4:http: port 'http' is not a number"},
        {"tcp:1.2.3.4:80:x",
         "tcp:1.2.3.4:80:x: unexpected positional field 'x' (tcp clients take 2 by position: host, port)"},
        {"tcp:host=1.2.3.4:port=80:81",
         "tcp:host=1.2.3.4:port=80:81: unexpected positional field '81' (tcp clients take 2 by position: host, port)"},
        {"tcp:1.2.3.4:80:host=1.2.3.4",
         "tcp:1.2.3.4:80:host=1.2.3.4: unexpected positional field '80' (tcp clients take 2 by position: host, port)"},
        {"tcp:1.2.3.4:80:timeout=0", "tcp:1.2.3.4:80:timeout=0: timeout '0' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:timeout=-1", "tcp:1.2.3.4:80:timeout=-1: timeout '-1' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:timeout=abc", "tcp:1.2.3.4:80:timeout=abc: timeout 'abc' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:timeout=inf", "tcp:1.2.3.4:80:timeout=inf: timeout 'inf' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:timeout=nan", "tcp:1.2.3.4:80:timeout=nan: timeout 'nan' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:timeout=0x10", "tcp:1.2.3.4:80:timeout=0x10: timeout '0x10' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:timeout=1e999", "tcp:1.2.3.4:80:timeout=1e999: timeout '1e999' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:timeout=1.5s", "tcp:1.2.3.4:80:timeout=1.5s: timeout '1.5s' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:timeout=", "tcp:1.2.3.4:80:timeout=: timeout '' is not a positive number of seconds"},
        {"tcp:1.2.3.4:80:bindAddress=\\:\\:1", "tcp:1.2.3.4:80:bindAddress=\\:\\:1: bindAddress '::1' is not of the host's address family"},
        {"tcp:1.2.3.4:80:bindAddress=me",
         "tcp:1.2.3.4:80:bindAddress=me: bindAddress 'me' is not an IP address"},
        {"tcp:1.2.3.4:80:interface=1.2.3.4", "tcp:1.2.3.4:80:interface=1.2.3.4: unknown parameter 'interface' "
                                              "(tcp clients take: host, port, timeout, bindAddress)"},
        {"tcp:1.2.3.4:80:timeout=1:timeout=2", "tcp:1.2.3.4:80:timeout=1:timeout=2: duplicate parameter 'timeout'"},
        {"tcp6:\\:\\:1:80", "tcp6:\\:\\:1:80: unknown endpoint type 'tcp6' (clients: tcp, unix, tls)"},
        {"unix", "unix: missing path"},
        {"unix:path=", "unix:path=: empty path"},
        {"unix:/a:/b", "unix:/a:/b: unexpected positional field '/b' (unix clients take 1 by position: path)"},
        {"unix:path=/a:/b", "unix:path=/a:/b: duplicate parameter 'path'"},
        {"unix:/a:lockfile=1", "unix:/a:lockfile=1: unknown parameter 'lockfile' (unix clients take: path, timeout)"},
        {"unix:/a:timeout=x", "unix:/a:timeout=x: timeout 'x' is not a positive number of seconds"},
        {"host=1.2.3.4:tcp:80", "host=1.2.3.4:tcp:80: the endpoint type must come first, not the parameter 'host'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_refused(weft_endpoint_client, cases[i][0], cases[i][1]);
}

WEFT_TEST(endpoint, error_out_parameter_is_optional)
{
    weft_reactor *r = weft_test_clock();
    weft_endpoint *e = NULL;
    cr_assert_eq(weft_endpoint_server(r, "tcp:nope", &e, NULL), WEFT_EINVAL);
    cr_assert_null(e);
    cr_assert_eq(weft_endpoint_client(r, NULL, &e, NULL), WEFT_EINVAL);
    weft_failure *f = NULL;
    cr_assert_eq(weft_endpoint_client(r, NULL, &e, &f), WEFT_EINVAL);
    cr_assert_str_eq(weft_failure_message(f), "no endpoint string");
    weft_failure_unref(f);
    f = (weft_failure *)&f;
    cr_assert_eq(weft_endpoint_server(r, "tcp:80", &e, &f), 0);
    cr_assert_null(f, "no failure is stored on success");
    weft_endpoint_free(e);
    weft_endpoint_free(NULL);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, describe_is_snprintf_like)
{
    weft_reactor *r = weft_test_clock();
    weft_endpoint *e = parse_ok(r, weft_endpoint_server, "tcp:8080:interface=127.0.0.1");
    const char *want = "tcp:8080:interface=127.0.0.1";
    cr_assert_eq(weft_endpoint_describe(e, NULL, 0), strlen(want));
    char small[9];
    memset(small, 'x', sizeof small);
    cr_assert_eq(weft_endpoint_describe(e, small, sizeof small), strlen(want));
    cr_assert_str_eq(small, "tcp:8080");
    char one[1] = {'x'};
    cr_assert_eq(weft_endpoint_describe(e, one, 1), strlen(want));
    cr_assert_eq(one[0], '\0');
    weft_endpoint_free(e);
    weft_reactor_free(r);
}

/* Every allocation failing in turn: parsing, refusing and describing must
 * report WEFT_ENOMEM (never crash) and leak nothing. */
static void parse_many(void *arg)
{
    weft_reactor *r = arg;
    static const char *const servers[] = {"tcp:80:interface=\\:\\:1", "unix:/a\\:b:mode=0600", "tcp:80:bogus=1",
                                          "nope:1", "tcp:80\\"};
    static const char *const clients[] = {"tcp:127.0.0.1:80:timeout=2.5", "tcp:example.com:80", "unix:path="};
    for (size_t i = 0; i < sizeof servers / sizeof servers[0] + sizeof clients / sizeof clients[0]; i++) {
        bool server = i < sizeof servers / sizeof servers[0];
        const char *s = server ? servers[i] : clients[i - sizeof servers / sizeof servers[0]];
        weft_endpoint *e = NULL;
        weft_failure *f = NULL;
        int rc = (server ? weft_endpoint_server : weft_endpoint_client)(r, s, &e, &f);
        cr_assert(rc == 0 || rc == WEFT_EINVAL || rc == WEFT_ENOMEM);
        cr_assert((rc == 0) == (f == NULL));
        if (f)
            cr_assert_eq(weft_failure_code(f), rc);
        char buf[128];
        if (e)
            weft_endpoint_describe(e, buf, sizeof buf);
        weft_failure_unref(f);
        weft_endpoint_free(e);
    }
}

WEFT_TEST(endpoint, allocation_failures)
{
    weft_reactor *r = weft_test_clock();
    cr_assert_gt(weft_test_each_alloc_failure(parse_many, r), 1);
    weft_reactor_free(r);
}

/* ---- real sockets ---- */

typedef struct echo {
    weft_protocol base;
} echo;

static void echo_data(weft_protocol *p, const void *data, size_t len)
{
    cr_assert_eq(weft_transport_write(p->transport, data, len), 0);
}

static void free_protocol(weft_protocol *p)
{
    free(p);
}

static const weft_protocol_ops echo_ops = {.data_received = echo_data, .destroy = free_protocol};

static weft_protocol *build_echo(weft_factory *f, const weft_address *peer)
{
    (void)f, (void)peer;
    echo *e = calloc(1, sizeof *e);
    e->base.ops = &echo_ops;
    return &e->base;
}

static const weft_factory_ops echo_factory_ops = {.build = build_echo};

typedef struct client {
    weft_protocol base;
    char got[64];
    size_t len;
    weft_deferred *done; /* fires on connection_lost */
} client;

static void client_data(weft_protocol *p, const void *data, size_t len)
{
    client *c = (client *)p;
    cr_assert_leq(c->len + len, sizeof c->got);
    memcpy(c->got + c->len, data, len);
    c->len += len;
    if (c->len == 5)
        weft_transport_lose_connection(p->transport);
}

static void client_lost(weft_protocol *p, const weft_failure *why)
{
    (void)why;
    weft_deferred_callback(((client *)p)->done, NULL, NULL);
}

static const weft_protocol_ops client_ops = {.data_received = client_data, .connection_lost = client_lost};

typedef struct client_factory {
    weft_factory base;
    client *c;
} client_factory;

static weft_protocol *build_client(weft_factory *f, const weft_address *peer)
{
    (void)peer;
    return &((client_factory *)f)->c->base;
}

static const weft_factory_ops client_factory_ops = {.build = build_client};

/* Listens through a server string; returns the port from the Deferred. */
static weft_port *listen_on(weft_reactor *r, weft_factory *f, const char *desc)
{
    weft_endpoint *e = parse_ok(r, weft_endpoint_server, desc);
    weft_deferred *d = weft_endpoint_listen(e, f);
    weft_endpoint_free(e); /* the endpoint may go once listen returns */
    cr_assert_not_null(d);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res), "listen's Deferred has fired");
    cr_assert(!weft_failed(res), "%s: %s", desc, weft_failed(res) ? weft_failure_message(weft_result_failure(res)) : "");
    weft_port *port = res.value;
    cr_assert_not_null(port);
    weft_deferred_unref(d);
    return port;
}

/* Connects through a client string, sends "hello", reads the echo. */
static void echo_through(weft_reactor *r, const char *desc, weft_address *host)
{
    client c = {.base.ops = &client_ops, .done = weft_deferred_new(r)};
    client_factory cf = {.base.ops = &client_factory_ops, .c = &c};
    weft_endpoint *e = parse_ok(r, weft_endpoint_client, desc);
    weft_deferred *d = weft_endpoint_connect(e, &cf.base);
    weft_endpoint_free(e);
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(r, d, 10), 0);
    weft_result res;
    cr_assert(weft_deferred_peek(d, &res));
    cr_assert(!weft_failed(res), "%s: %s", desc, weft_failed(res) ? weft_failure_message(weft_result_failure(res)) : "");
    cr_assert_eq(res.value, &c.base);
    weft_deferred_unref(d);
    if (host)
        cr_assert_eq(weft_transport_host(c.base.transport, host), 0);
    cr_assert_eq(weft_transport_write(c.base.transport, "hello", 5), 0);
    cr_assert_eq(weft_reactor_run_until(r, c.done, 10), 0);
    cr_assert_eq(c.len, 5);
    cr_assert_eq(memcmp(c.got, "hello", 5), 0);
    weft_deferred_unref(c.done);
}

/* Takes d's failure out (so it counts as handled), checks its code, and
 * copies its message into msg. Drops d. */
static void take_failure(weft_deferred *d, int code, char *msg, size_t size)
{
    cr_assert_not_null(d);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0, "the Deferred has fired");
    cr_assert(weft_failed(res));
    weft_failure *why = weft_result_failure(res);
    cr_assert_eq(weft_failure_code(why), code, "%s: %s", weft_err_name(weft_failure_code(why)),
                 weft_failure_message(why));
    snprintf(msg, size, "%s", weft_failure_message(why));
    weft_result_free(res);
    weft_deferred_unref(d);
}

static void stop(weft_reactor *r, weft_port *port)
{
    weft_deferred_unref(weft_port_stop(port));
    weft_reactor_iterate(r, 0); /* the second phase of closes */
}

static void echo_over_ip(const char *server, const char *host_text, const char *client_fmt)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory f = {.ops = &echo_factory_ops};
    weft_port *port = listen_on(r, &f, server);
    weft_address a;
    cr_assert_eq(weft_port_address(port, &a), 0);
    int n = weft_address_port(&a);
    cr_assert_gt(n, 0, "the real port is read back from the port");
    char want[64], got[64];
    snprintf(want, sizeof want, strchr(host_text, ':') ? "[%s]:%d" : "%s:%d", host_text, n);
    weft_address_format(&a, got, sizeof got);
    cr_assert_str_eq(got, want);
    char desc[128];
    snprintf(desc, sizeof desc, client_fmt, n);
    echo_through(r, desc, NULL);
    stop(r, port);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, echo_tcp_ipv4)
{
    echo_over_ip("tcp:0:interface=127.0.0.1", "127.0.0.1", "tcp:127.0.0.1:%d");
}

WEFT_TEST(endpoint, echo_tcp_ipv6)
{
    echo_over_ip("tcp6:0:interface=\\:\\:1", "::1", "tcp:host=\\:\\:1:port=%d:timeout=5");
}

WEFT_TEST(endpoint, echo_tcp_with_ipv6_interface_on_tcp)
{
    /* As in Twisted, "tcp" listens on IPv6 when given an IPv6 interface. */
    echo_over_ip("tcp:0:\\:\\:1:5", "::1", "tcp:\\:\\:1:%d");
}

WEFT_TEST(endpoint, connect_with_bind_address)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory f = {.ops = &echo_factory_ops};
    weft_port *port = listen_on(r, &f, "tcp:0:interface=127.0.0.1");
    weft_address a;
    cr_assert_eq(weft_port_address(port, &a), 0);
    char desc[128];
    snprintf(desc, sizeof desc, "tcp:127.0.0.1:%d:bindAddress=127.0.0.1", weft_address_port(&a));
    weft_address host;
    echo_through(r, desc, &host);
    char text[64];
    weft_address_format(&host, text, sizeof text);
    cr_assert_eq(strncmp(text, "127.0.0.1:", 10), 0, "bound to %s", text);
    stop(r, port);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, echo_unix_path)
{
    char path[64], lock[80], server[128], client_desc[128];
    snprintf(path, sizeof path, "/tmp/weft-endpoint-%d.sock", (int)getpid());
    snprintf(lock, sizeof lock, "%s.lock", path);
    unlink(path);
    unlink(lock);
    snprintf(server, sizeof server, "unix:%s:mode=0600", path);
    snprintf(client_desc, sizeof client_desc, "unix:path=%s:timeout=5", path);
    weft_reactor *r = weft_test_reactor();
    weft_factory f = {.ops = &echo_factory_ops};
    weft_port *port = listen_on(r, &f, server);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "mode=0600 was applied (got %o)", st.st_mode & 07777);
    cr_assert_eq(access(lock, F_OK), 0, "lockfile defaults to 1, as in Twisted");
    weft_address a;
    cr_assert_eq(weft_port_address(port, &a), 0);
    char text[128], want[128];
    weft_address_format(&a, text, sizeof text);
    snprintf(want, sizeof want, "unix:%s", path);
    cr_assert_str_eq(text, want);
    echo_through(r, client_desc, NULL);
    stop(r, port);
    cr_assert_neq(access(path, F_OK), 0, "the socket file is gone");
    cr_assert_neq(access(lock, F_OK), 0, "the lock file is gone");
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, echo_unix_path_with_escaped_colon)
{
    char path[64], server[128], client_desc[128];
    snprintf(path, sizeof path, "/tmp/weft-endpoint-%d:colon.sock", (int)getpid());
    unlink(path);
    snprintf(server, sizeof server, "unix:/tmp/weft-endpoint-%d\\:colon.sock:lockfile=0", (int)getpid());
    snprintf(client_desc, sizeof client_desc, "unix:/tmp/weft-endpoint-%d\\:colon.sock", (int)getpid());
    weft_reactor *r = weft_test_reactor();
    weft_factory f = {.ops = &echo_factory_ops};
    weft_port *port = listen_on(r, &f, server);
    cr_assert_eq(access(path, F_OK), 0, "the escaped colon is part of the path");
    echo_through(r, client_desc, NULL);
    stop(r, port);
    cr_assert_neq(access(path, F_OK), 0);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, echo_unix_abstract)
{
    char server[64], client_desc[64];
    snprintf(server, sizeof server, "unix:@weft-endpoint-%d", (int)getpid());
    snprintf(client_desc, sizeof client_desc, "unix:path=@weft-endpoint-%d", (int)getpid());
    weft_reactor *r = weft_test_reactor();
    weft_factory f = {.ops = &echo_factory_ops};
    weft_port *port = listen_on(r, &f, server);
    weft_address a;
    cr_assert_eq(weft_port_address(port, &a), 0);
    char text[64];
    weft_address_format(&a, text, sizeof text);
    cr_assert_str_eq(text, server, "%s", text);
    echo_through(r, client_desc, NULL);
    stop(r, port);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, listen_error_names_the_address)
{
    weft_reactor *r = weft_test_reactor();
    weft_factory f = {.ops = &echo_factory_ops};
    weft_port *port = listen_on(r, &f, "tcp:0:interface=127.0.0.1");
    weft_address a;
    cr_assert_eq(weft_port_address(port, &a), 0);
    char desc[64], where[64];
    snprintf(desc, sizeof desc, "tcp:%d:interface=127.0.0.1", weft_address_port(&a));
    snprintf(where, sizeof where, "127.0.0.1:%d", weft_address_port(&a));
    weft_endpoint *e = parse_ok(r, weft_endpoint_server, desc);
    weft_deferred *d = weft_endpoint_listen(e, &f);
    weft_endpoint_free(e);
    char msg[256];
    take_failure(d, -EADDRINUSE, msg, sizeof msg);
    cr_assert(strstr(msg, where), "\"%s\" names %s", msg, where);
    stop(r, port);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, wrong_direction)
{
    weft_reactor *r = weft_test_clock();
    weft_factory f = {.ops = &echo_factory_ops};
    weft_endpoint *e = parse_ok(r, weft_endpoint_client, "tcp:127.0.0.1:9");
    char msg[256];
    take_failure(weft_endpoint_listen(e, &f), WEFT_EINVAL, msg, sizeof msg);
    cr_assert_str_eq(msg, "tcp:host=127.0.0.1:port=9: a client endpoint cannot listen");
    weft_endpoint_free(e);
    e = parse_ok(r, weft_endpoint_server, "tcp:0");
    take_failure(weft_endpoint_connect(e, &f), WEFT_EINVAL, msg, sizeof msg);
    cr_assert_str_eq(msg, "tcp:0: a server endpoint cannot connect");
    weft_endpoint_free(e);
    weft_reactor_free(r);
}

/* The timeout reaches weft_connect: on a fake clock, the attempt's timer is
 * due at exactly the timeout, and firing it fails the attempt. */
static void check_timeout(const char *suffix, double want)
{
    char path[64], server[96], client_desc[128];
    snprintf(path, sizeof path, "@weft-endpoint-timeout-%d", (int)getpid());
    snprintf(server, sizeof server, "unix:%s", path);
    snprintf(client_desc, sizeof client_desc, "unix:%s%s", path, suffix);
    weft_reactor *r = weft_test_clock();
    weft_factory f = {.ops = &echo_factory_ops};
    weft_port *port = listen_on(r, &f, server);
    client c = {.base.ops = &client_ops};
    client_factory cf = {.base.ops = &client_factory_ops, .c = &c};
    weft_endpoint *e = parse_ok(r, weft_endpoint_client, client_desc);
    weft_deferred *d = weft_endpoint_connect(e, &cf.base);
    weft_endpoint_free(e);
    weft_timer t;
    cr_assert_eq(weft_clock_calls(r, &t, 1), 1);
    cr_assert_float_eq(weft_timer_time(r, t), want, 1e-9);
    /* No iteration has run, so the connection cannot have completed. */
    cr_assert_eq(weft_clock_advance(r, want - 0.125), 0);
    cr_assert(!weft_deferred_called(d));
    cr_assert_eq(weft_clock_advance(r, 0.125), 0);
    char msg[256];
    take_failure(d, WEFT_ETIMEDOUT, msg, sizeof msg);
    stop(r, port);
    weft_reactor_free(r);
}

WEFT_TEST(endpoint, connect_timeout_given)
{
    check_timeout(":timeout=2.5", 2.5);
}

WEFT_TEST(endpoint, connect_timeout_default)
{
    check_timeout("", 30);
}

WEFT_TEST(endpoint, address_host_is_the_host_alone)
{
    weft_address a;
    char buf[128];
    cr_assert_eq(weft_address_from_ip("127.0.0.1", 8080, &a), 0);
    cr_assert_eq(weft_address_host(&a, buf, sizeof buf), 9);
    cr_assert_str_eq(buf, "127.0.0.1");
    cr_assert_eq(weft_address_from_ip("::1", 8080, &a), 0);
    weft_address_host(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, "::1");
    cr_assert_eq(weft_address_from_unix("/run/x.sock", &a), 0);
    weft_address_host(&a, buf, sizeof buf);
    cr_assert_str_eq(buf, "unix:/run/x.sock");
}

/* ---- the reference: every parameter documented, every kind's error ---- */

/* Issue 11: "tcp:80:bogus=1: unknown parameter 'bogus'" did not say what
 * would have been right. Every kind now lists its parameters, from the
 * table the parser binds them with. */
WEFT_TEST(endpoint, unknown_parameter_error_lists_the_valid_ones)
{
    check_refused(weft_endpoint_server, "tcp:80:bogus=1",
                  "tcp:80:bogus=1: unknown parameter 'bogus' (tcp servers take: port, interface, backlog)");
    check_refused(weft_endpoint_server, "tls:443:privateKey=k.pem:certkey=c.pem",
                  "tls:443:privateKey=k.pem:certkey=c.pem: unknown parameter 'certkey' (tls servers take: port, "
                  "privateKey, certKey, interface, backlog, extraCertChain)");
    check_refused(weft_endpoint_client, "tls:host=example.com:port=443:caCertsDir=/etc/ssl/certs",
                  "tls:host=example.com:port=443:caCertsDir=/etc/ssl/certs: unknown parameter 'caCertsDir' (tls "
                  "clients take: host, port, timeout, bindAddress, trustRoots, certificate, privateKey)");
    for (size_t i = 0; i < weft__ep_nkinds; i++) {
        const weft__ep_kind *k = weft__ep_kinds[i];
        char in[256], want[512];
        /* A wrapping kind's own parameters come before the string it wraps. */
        if (k->wraps)
            snprintf(in, sizeof in, "%s:bogus=1%s", k->name, k->example + strlen(k->name));
        else
            snprintf(in, sizeof in, "%s:bogus=1", k->example);
        int n = snprintf(want, sizeof want, "%s: unknown parameter 'bogus' (%s %s take:", in, k->name,
                         k->server ? "servers" : "clients");
        for (size_t j = 0; j < k->nparams; j++)
            n += snprintf(want + n, sizeof want - (size_t)n, "%s%s", j ? ", " : " ", k->params[j].name);
        snprintf(want + n, sizeof want - (size_t)n, ")");
        check_refused(k->server ? weft_endpoint_server : weft_endpoint_client, in, want);
    }
}

WEFT_TEST(endpoint, every_example_in_the_reference_parses)
{
    weft_reactor *r = weft_test_clock();
    for (size_t i = 0; i < weft__ep_nkinds; i++) {
        const weft__ep_kind *k = weft__ep_kinds[i];
        weft_endpoint *e = parse_ok(r, k->server ? weft_endpoint_server : weft_endpoint_client, k->example);
        cr_assert_eq(e->kind, k, "%s", k->example);
        weft_endpoint_free(e);
    }
    weft_reactor_free(r);
}

/* The lines of `text` about kind k: from the header naming it ("tls, ssl:
 * ..." after `header`, in the part that starts with `section`) to the next
 * header. A header starts with header[0] (a '#' in the manual) or, when
 * header is "", is any line that is not indented. NULL when there is none. */
static const char *kind_block(const char *text, const char *section, const char *header, const weft__ep_kind *k,
                              size_t *len)
{
    const char *line = strstr(text, section);
    cr_assert_not_null(line, "no section '%s'", section);
    const char *start = NULL;
    for (; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
        bool is_header = *header ? line[0] == header[0] : line[0] != ' ' && line[0] != '\n';
        if (!is_header)
            continue;
        if (start) {
            *len = (size_t)(line - start);
            return start;
        }
        if (strncmp(line, header, strlen(header)) != 0)
            continue;
        /* "NAME, NAME: summary" */
        const char *names = line + strlen(header), *colon = strchr(names, ':'), *eol = strchr(names, '\n');
        if (!colon || (eol && colon > eol))
            continue;
        for (const char *n = names; n < colon;) {
            size_t l = strcspn(n, ",:");
            if (l == strlen(k->name) && strncmp(n, k->name, l) == 0)
                start = line;
            n += l;
            n += strspn(n, ", ");
        }
    }
    *len = start ? strlen(start) : 0;
    return start;
}

static bool block_has(const char *block, size_t len, const char *needle)
{
    return memmem(block, len, needle, strlen(needle)) != NULL;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    char *text = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap)
            cr_assert_not_null(text = realloc(text, cap = 2 * cap + 8192));
        size_t n = fread(text + len, 1, cap - len - 1, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

/* A file of the sources, found from this test's own path. */
static char *read_source(const char *relative)
{
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    cr_assert_not_null(slash, "__FILE__ (%s) is not a path", __FILE__);
    snprintf(path, sizeof path, "%.*s/../%s", (int)(slash - __FILE__), __FILE__, relative);
    return read_file(path);
}

/* Issue 11: the tls parameters were found by trial; endpoint.h listed only
 * tcp, tcp6 and unix. Every parameter the parser accepts (the table it binds
 * with) must appear under its kind in `weft --help-endpoints`, with its
 * default, and in docs/endpoints.md, and in endpoint.h. */
WEFT_TEST(endpoint, every_parameter_the_parser_accepts_is_documented)
{
    char *argv[] = {WEFT_CLI_PATH, "--help-endpoints", NULL};
    weft_test_output help = weft_test_run(argv, NULL, 0, 30);
    cr_assert_eq(help.status, 0, "%s", help.err);
    char *manual = read_source("docs/endpoints.md");
    char *header = read_source("include/weft/endpoint.h");
    for (size_t i = 0; i < weft__ep_nkinds; i++) {
        const weft__ep_kind *k = weft__ep_kinds[i];
        const char *dir = k->server ? "server" : "client";
        size_t hlen, mlen;
        const char *h = kind_block(help.out, k->server ? "\nSERVERS" : "\nCLIENTS", "", k, &hlen);
        const char *m = kind_block(manual, k->server ? "\n## SERVERS" : "\n## CLIENTS", "### ", k, &mlen);
        cr_assert_not_null(h, "%s %ss are not in weft --help-endpoints:\n%s", k->name, dir, help.out);
        cr_assert_not_null(m, "%s %ss have no section in docs/endpoints.md", k->name, dir);
        if (strncmp(h, k->name, strlen(k->name)) == 0) /* not for ssl, written as "tls, ssl" */
            cr_assert(block_has(h, hlen, k->example), "%s", k->example);
        for (size_t j = 0; j < k->nparams; j++) {
            const weft__ep_param *p = &k->params[j];
            char want[256];
            snprintf(want, sizeof want, "    %s=%s ", p->name, p->value);
            cr_assert(block_has(h, hlen, want), "'%s' of %s %ss is not in weft --help-endpoints:\n%.*s", p->name,
                      k->name, dir, (int)hlen, h);
            /* The next line gives its default. */
            const char *next = strchr(memmem(h, hlen, want, strlen(want)), '\n') + 1;
            next += strspn(next, " ");
            char dflt[256];
            snprintf(dflt, sizeof dflt, p->dflt ? "Default: %s.\n" : "Required.\n", p->dflt);
            cr_assert_eq(strncmp(next, dflt, strlen(dflt)), 0, "%s=: no '%s' after it", p->name, dflt);
            snprintf(want, sizeof want, "`%s=", p->name);
            cr_assert(block_has(m, mlen, want), "'%s' of %s %ss is not in their section of docs/endpoints.md",
                      p->name, k->name, dir);
            snprintf(want, sizeof want, "%s=", p->name);
            cr_assert_not_null(strstr(header, want), "'%s' of %s %ss is not in endpoint.h", p->name, k->name, dir);
        }
    }
    free(header);
    free(manual);
    weft_test_output_free(&help);
}

/* ---- a tls: server that cannot listen says why ---- */

/* A file that is not PEM, beside the test certificates. */
static void write_not_pem(const weft_test_certs *certs, char *path, size_t size)
{
    snprintf(path, size, "%s/notpem.txt", certs->dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("hello, I am not a certificate\n", f);
    fclose(f);
}

/* Listens on "tls:0:interface=127.0.0.1:privateKey=KEY:certKey=CERT" and
 * returns the failure's message (WEFT_EINVAL), checking nothing was logged:
 * the failure is the caller's to report. */
static void tls_listen_fails(const char *key, const char *cert, char *msg, size_t size)
{
    weft_reactor *r = weft_test_reactor();
    weft_test_log log;
    weft_test_log_capture(r, &log);
    weft_factory f = {.ops = &echo_factory_ops};
    char desc[1024];
    snprintf(desc, sizeof desc, "tls:0:interface=127.0.0.1:privateKey=%s:certKey=%s", key, cert);
    weft_endpoint *e = parse_ok(r, weft_endpoint_server, desc);
    weft_deferred *d = weft_endpoint_listen(e, &f);
    weft_endpoint_free(e);
    take_failure(d, WEFT_EINVAL, msg, size);
    cr_assert_eq(log.count, 0, "the failure is returned, not also logged: %s", log.lines[0]);
    weft_reactor_free(r);
}

/* Issue 11: "tls:8445:privateKey=nokey.pem:certKey=nocert.pem" failed with
 * "cannot listen on 0.0.0.0:8445: Invalid argument"; the reason was only in
 * the log. The listen failure now names the file and the cause. */
WEFT_TEST(endpoint, tls_listen_failure_names_the_file_and_the_cause, .timeout = 30)
{
    weft_test_certs certs;
    weft_test_certs_make(&certs);
    char missing[160], not_pem[160], msg[1024], want[1024];
    snprintf(missing, sizeof missing, "%s/nocert.pem", certs.dir);
    write_not_pem(&certs, not_pem, sizeof not_pem);

    tls_listen_fails(certs.server_key, missing, msg, sizeof msg);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:0: cannot load the certificate %s: No such file or directory",
             missing);
    cr_assert_str_eq(msg, want);

    tls_listen_fails(missing, certs.server_cert, msg, sizeof msg);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:0: cannot load the private key %s: No such file or directory",
             missing);
    cr_assert_str_eq(msg, want);

    tls_listen_fails(certs.server_key, certs.dir, msg, sizeof msg);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:0: cannot load the certificate %s: Is a directory", certs.dir);
    cr_assert_str_eq(msg, want);

    /* The file is there but holds no certificate, or no key: OpenSSL's
     * reason ("no start line"; the key's wording depends on OpenSSL's
     * version). */
    tls_listen_fails(certs.server_key, not_pem, msg, sizeof msg);
    snprintf(want, sizeof want,
             "cannot listen on 127.0.0.1:0: cannot load the certificate %s: no PEM certificate in it (OpenSSL: no start "
             "line)",
             not_pem);
    cr_assert_str_eq(msg, want);

    tls_listen_fails(not_pem, certs.server_cert, msg, sizeof msg);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:0: cannot load the private key %s: no PEM private key in it (OpenSSL: ",
             not_pem);
    cr_assert_eq(strncmp(msg, want, strlen(want)), 0, "%s", msg);

    tls_listen_fails(certs.server_cert, certs.server_cert, msg, sizeof msg);
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1:0: cannot load the private key %s: no PEM private key in it",
             certs.server_cert);
    cr_assert_eq(strncmp(msg, want, strlen(want)), 0, "%s", msg);

    /* Both load, but the key is another certificate's. */
    tls_listen_fails(certs.other_key, certs.server_cert, msg, sizeof msg);
    snprintf(want, sizeof want,
             "cannot listen on 127.0.0.1:0: the private key %s does not match the certificate %s (OpenSSL: key values "
             "mismatch)",
             certs.other_key, certs.server_cert);
    cr_assert_str_eq(msg, want);

    unlink(not_pem);
    weft_test_certs_remove(&certs);
}

WEFT_TEST(endpoint, help_is_snprintf_like)
{
    size_t need = weft_endpoint_help(NULL, 0);
    char *full = malloc(need + 1);
    cr_assert_eq(weft_endpoint_help(full, need + 1), need);
    cr_assert_eq(strlen(full), need);
    char small[40];
    memset(small, 'x', sizeof small);
    cr_assert_eq(weft_endpoint_help(small, sizeof small), need);
    cr_assert_eq(strlen(small), sizeof small - 1);
    cr_assert_eq(strncmp(small, full, sizeof small - 1), 0);
    free(full);
}
