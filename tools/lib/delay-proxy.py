#!/usr/bin/env python3
"""A TCP proxy that delays what it forwards, for tools/chaos --network (a test helper, not part
of Settle): this machine's kernel has no netem, so latency is added here.

  delay-proxy.py LISTEN_HOST TARGET_HOST:PORT CONTROL_FILE

Prints "listening on HOST:PORT" once bound (port 0 picks one). While CONTROL_FILE holds "MEAN JITTER"
(milliseconds), every chunk in either direction is delivered MEAN ± JITTER ms after it arrived,
in order; when the file is absent, chunks pass at once. Each connection is forwarded as its own
pair of streams, so a stalled target stalls only its own connections.
"""
import asyncio
import os
import random
import sys
import time

listen_host, target, control_file = sys.argv[1], sys.argv[2], sys.argv[3]
target_host, target_port = target.rsplit(":", 1)
delay_ms = (0, 0)
checked_at = 0.0


def current_delay():
    global delay_ms, checked_at
    now = time.monotonic()
    if now - checked_at > 0.1:
        checked_at = now
        try:
            with open(control_file) as f:
                mean, jitter = (int(x) for x in f.read().split()[:2])
            delay_ms = (mean, jitter)
        except (OSError, ValueError):
            delay_ms = (0, 0)
    return delay_ms


async def pipe(reader, writer):
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    last_due = 0.0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            mean, jitter = current_delay()
            due = time.monotonic() + max(0, mean + random.randint(-jitter, jitter)) / 1000 if mean else 0.0
            last_due = max(last_due, due)  # in order: never before the chunk ahead of it
            await queue.put((last_due, data))
    except (ConnectionError, OSError):
        pass
    await queue.put((0, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass
    try:
        writer.close()
    except OSError:
        pass


async def handle(client_reader, client_writer):
    try:
        target_reader, target_writer = await asyncio.open_connection(target_host, int(target_port))
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, target_writer), pipe(target_reader, client_writer))


async def main():
    server = await asyncio.start_server(handle, listen_host, 0)
    print(f"listening on {listen_host}:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        os._exit(0)
