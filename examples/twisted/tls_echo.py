# SPDX-License-Identifier: MIT
"""Twisted's twin of examples/tls_echo.c: a TLS echo client that streams
BYTES through a producer and checks that every byte comes back unchanged.

    python3 tls_echo.py HOST PORT CA.pem [BYTES]
"""
import sys

from twisted.internet import defer, endpoints, protocol, ssl, task
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer


def pattern(size):
    return bytes((i * 31 + 7) & 255 for i in range(size))


@implementer(IPushProducer)
class Sender:
    def __init__(self, transport, data):
        self.transport, self.data, self.sent, self.paused = transport, data, 0, False

    def resumeProducing(self):
        self.paused = False
        while not self.paused and self.sent < len(self.data):
            self.transport.write(self.data[self.sent : self.sent + 16384])
            self.sent += 16384

    def pauseProducing(self):
        self.paused = True

    def stopProducing(self):
        self.sent = len(self.data)


class Check(protocol.Protocol):
    def __init__(self, data):
        self.data, self.got, self.done = data, 0, defer.Deferred()

    def connectionMade(self):
        sender = Sender(self.transport, self.data)
        self.transport.registerProducer(sender, True)
        sender.resumeProducing()

    def dataReceived(self, data):
        if data != self.data[self.got : self.got + len(data)]:
            self.done.errback(ValueError(f"bytes after {self.got} came back changed"))
            self.transport.abortConnection()
            return
        self.got += len(data)
        if self.got == len(self.data):
            self.done.callback(self.got)
            self.transport.loseConnection()

    def connectionLost(self, reason):
        if not self.done.called:
            self.done.errback(reason)


async def main(reactor, host, port, ca, size="1048576"):
    with open(ca) as f:
        trust = ssl.Certificate.loadPEM(f.read())
    endpoint = endpoints.SSL4ClientEndpoint(reactor, host, int(port), ssl.optionsForClientTLS(host, trust))
    check = await endpoints.connectProtocol(endpoint, Check(pattern(int(size))))
    print(f"{await check.done} bytes echoed intact")


task.react(lambda reactor, *argv: defer.ensureDeferred(main(reactor, *argv)), sys.argv[1:])
