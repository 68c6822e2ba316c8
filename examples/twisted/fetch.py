# SPDX-License-Identifier: MIT
"""Twisted's twin of examples/fetch.c: fetch URLs concurrently, each with a
timeout, printing status and body length.

    python3 fetch.py http://127.0.0.1:8080/ https://example.org/
"""
import sys

from twisted.internet import defer, task
from twisted.web.client import Agent, readBody


async def fetch(reactor, agent, url):
    try:
        response = await agent.request(b"GET", url.encode()).addTimeout(10, reactor)
        body = await readBody(response).addTimeout(10, reactor)
    except Exception as e:
        print(f"{url}: failed: {e}")
        return False
    print(f"{url}: {response.code}, {len(body)} bytes")
    return True


async def main(reactor, *urls):
    agent = Agent(reactor)
    done = await defer.gatherResults([defer.ensureDeferred(fetch(reactor, agent, url)) for url in urls])
    if not all(done):
        raise SystemExit(f"{done.count(False)} of {len(urls)} fetches failed")


task.react(lambda reactor, *urls: defer.ensureDeferred(main(reactor, *urls)), sys.argv[1:])
