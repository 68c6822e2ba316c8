/* SPDX-License-Identifier: MIT */
/* Plain sockets for tests that play a client or a peer by hand. */
#ifndef WEFT_TEST_NET_H
#define WEFT_TEST_NET_H

/* A blocking TCP connection to 127.0.0.1:port; fails the test if refused. */
int weft_test_dial(int port);
/* A socket listening on 127.0.0.1, port 0 (the port chosen in *port), that
 * nobody accepts from unless the test does: a peer that never answers. */
int weft_test_listener(int *port);

#endif
