# SPDX-License-Identifier: MIT
"""Twisted's twin of examples/upstream.c: GET /proxy?path=/x fetches /x from
UPSTREAM and answers it in upper case; GET /time answers JSON.

    python3 upstream.py tcp:8080 http://127.0.0.1:9000
"""
import json
import sys
import time

from twisted.internet import defer, endpoints, task
from twisted.web import resource, server
from twisted.web.client import Agent, readBody


class Proxy(resource.Resource):
    isLeaf = True

    def __init__(self, reactor, upstream):
        super().__init__()
        self.reactor, self.agent, self.upstream = reactor, Agent(reactor), upstream

    def render_GET(self, request):
        path = request.args.get(b"path", [b""])[0]
        if not path.startswith(b"/"):
            request.setResponseCode(400)
            return b"Give ?path=/something.\n"
        defer.ensureDeferred(self.fetch(request, self.upstream + path))
        return server.NOT_DONE_YET

    async def fetch(self, request, url):
        try:
            response = await self.agent.request(b"GET", url).addTimeout(10, self.reactor)
            body = await readBody(response).addTimeout(10, self.reactor)
        except Exception:
            request.setResponseCode(500)
        else:
            request.setResponseCode(response.code)
            request.setHeader(b"content-type", b"text/plain")
            request.write(body.upper())
        request.finish()


class Time(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"application/json")
        return json.dumps({"time": int(time.time())}).encode() + b"\n"


async def main(reactor, where, upstream):
    root = resource.Resource()
    root.putChild(b"proxy", Proxy(reactor, upstream.encode()))
    root.putChild(b"time", Time())
    port = await endpoints.serverFromString(reactor, where).listen(server.Site(root))
    print(f"listening on {where} ({port.getHost().host}:{port.getHost().port})", flush=True)
    await defer.Deferred()


task.react(lambda reactor, *argv: defer.ensureDeferred(main(reactor, *argv)), sys.argv[1:])
