# SPDX-License-Identifier: MIT
"""Twisted's twin of examples/chat.c: a line chat server.

    python3 chat.py tcp:8123
"""
import sys

from twisted.internet import defer, endpoints, protocol, task
from twisted.protocols.basic import LineReceiver


class Chat(LineReceiver):
    delimiter = b"\n"

    def __init__(self, users):
        self.users = users
        self.nick = None

    def lineReceived(self, line):
        line = line.rstrip(b"\r")
        if self.nick is None:
            if not line or line in self.users or len(line) >= 32:
                self.sendLine(b"Taken or empty; another?")
                return
            self.nick = line
            self.users[line] = self
            self.broadcast(b"* %s joined" % line)
        elif line == b"/who":
            self.sendLine(b"Here: " + b" ".join(self.users))
        else:
            self.broadcast(b"<%s> %s" % (self.nick, line))

    def connectionLost(self, reason):
        if self.users.get(self.nick) is self:
            del self.users[self.nick]
            self.broadcast(b"* %s left" % self.nick)

    def broadcast(self, message):
        for user in self.users.values():
            user.sendLine(message)


class Room(protocol.Factory):
    def __init__(self):
        self.users = {}

    def buildProtocol(self, addr):
        return Chat(self.users)


async def main(reactor, where="tcp:8123"):
    port = await endpoints.serverFromString(reactor, where).listen(Room())
    print(f"listening on {where} ({port.getHost().host}:{port.getHost().port})", flush=True)
    await defer.Deferred()


task.react(lambda reactor, *argv: defer.ensureDeferred(main(reactor, *argv)), sys.argv[1:])
