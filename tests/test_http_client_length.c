/* SPDX-License-Identifier: MIT */
/*
 * The client's side of issue 10's Content-Length defect: a response whose
 * Content-Length does not fit an int64_t fails its request with a clear
 * error, and the connection is not used again. The server is Python, so the
 * response is exactly the bytes written here.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "proc.h"
#include "test.h"

/* Answers every connection's first request with RESPONSE, then closes;
 * says how many connections it has taken. */
static const char server_py[] =
    "import socket, sys\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(8)\n"
    "print('listening on upstream (127.0.0.1:%d)' % s.getsockname()[1], flush=True)\n"
    "n = 0\n"
    "while True:\n"
    "    c, _ = s.accept(); n += 1\n"
    "    data = b''\n"
    "    while b'\\r\\n\\r\\n' not in data:\n"
    "        more = c.recv(4096)\n"
    "        if not more: break\n"
    "        data += more\n"
    "    if b'/fits' in data:\n"
    "        c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok')\n"
    "    else:\n"
    "        c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: ' + data.split(b' ')[1][1:] + b'\\r\\n\\r\\nabc')\n"
    "    print('connection %d' % n, flush=True)\n"
    "    c.close()\n";

static weft_result await_result(weft_reactor *r, weft_deferred *d)
{
    cr_assert_not_null(d);
    cr_assert_eq(weft_reactor_run_until(r, d, 20), 0);
    weft_result res;
    cr_assert_eq(weft_deferred_take(d, &res), 0);
    weft_deferred_unref(d);
    return res;
}

WEFT_TEST(http_client_length, a_response_content_length_above_int64_max_fails_the_request, .timeout = 60)
{
    weft_test_proc py;
    char *argv[] = {"/usr/bin/python3", "-c", (char *)server_py, NULL};
    weft_test_proc_spawn(&py, argv);
    int port = weft_test_proc_port(&py);
    weft_reactor *r = weft_test_reactor();
    weft_logger_remove_observer(weft_reactor_logger(r), weft_log_text_observer, stderr);
    weft_http_agent *a = weft_http_agent_new(r, NULL);
    const char *lengths[] = {"18446744073709551615", "9223372036854775808"};
    for (size_t i = 0; i < 2; i++) {
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", port, lengths[i]);
        weft_result res = await_result(r, weft_http_agent_request(a, "GET", url, NULL, NULL, 0));
        if (!weft_failed(res)) {
            weft_http_response_free(res.value);
            cr_assert_fail("Content-Length: %s was taken", lengths[i]);
        }
        char why[256];
        weft_failure_describe(res.value, why, sizeof why);
        cr_assert_eq(weft_failure_code(res.value), WEFT_EHTTP, "%s", why);
        cr_assert(strstr(why, "Content-Length is too large"), "%s", why);
        weft_result_free(res);
    }
    weft_http_agent_free(a);
    weft_reactor_iterate(r, 0);
    weft_reactor_free(r);
    weft_test_proc_wait_for(&py, "connection 2");
    cr_assert_eq(weft_test_proc_finish(&py, SIGTERM), 128 + SIGTERM);
}
