#!/usr/bin/env python3
"""Holds N idle keep-alive client connections open on a proxy, for bench/run.sh's memory test.

Usage: idle_clients.py URL N

Opens N connections to URL (http:// or https://, on 127.0.0.1), sends one GET on each and
reads its whole response, so every connection has been through a request as a browser's
would have, then leaves them idle. It prints `ready <open>` on stdout and waits for a line on
stdin (the caller reads the server's memory meanwhile). Then it sends a second GET on every
connection to prove they were all still open while measured, prints `checked <ok> <failed>`
and closes them. At most 256 are opened or checked at a time: the proxy sees a steady ramp
rather than a SYN flood, and needs no more than that many connections to the backends.
"""

import asyncio
import ssl
import sys
from urllib.parse import urlsplit

OPENING_AT_ONCE = 256


async def request(reader, writer, host):
    """One GET on a keep-alive connection; True when a full 200 response came back."""
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tierlab-idle-bench\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status == b"200"


async def open_one(url, context, gate):
    async with gate:
        reader, writer = await asyncio.open_connection(url.hostname, url.port, ssl=context)
        if not await request(reader, writer, url.netloc):
            raise RuntimeError("the first request did not get a 200")
        return reader, writer


async def check(connection, host, gate):
    reader, writer = connection
    async with gate:
        try:
            return await request(reader, writer, host)
        except (OSError, asyncio.IncompleteReadError):
            return False


async def main(raw_url, count):
    url = urlsplit(raw_url)
    context = None
    if url.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    opened = await asyncio.gather(*(open_one(url, context, gate) for _ in range(count)),
                                  return_exceptions=True)
    connections = [c for c in opened if not isinstance(c, BaseException)]
    errors = [c for c in opened if isinstance(c, BaseException)]
    if errors:
        print(f"{len(errors)} connections failed to open, first: {errors[0]!r}", file=sys.stderr)
    print(f"ready {len(connections)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    results = await asyncio.gather(*(check(c, url.netloc, gate) for c in connections))
    ok = sum(results)
    print(f"checked {ok} {len(results) - ok}", flush=True)
    for _reader, writer in connections:
        writer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
