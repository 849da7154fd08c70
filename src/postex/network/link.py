"""One node's link to NATS in a network in a box: a TCP relay from a loopback port of the
node's own to the NATS server.

``postex network up`` points every node at its own link (``POSTEX_NATS_URL``), so one
node's link can be cut while its processes keep running and serving HTTP: ``postex network
cut --node GBLALA`` stops the relay (every connection through it closes and new ones are
refused, as when the site's line goes down), ``postex network reconnect --node GBLALA``
starts it again on the same port and the node's NATS clients reconnect by themselves.

Run as ``python -m postex.network.link --listen 127.0.0.1:PORT --to 127.0.0.1:PORT``; it
prints ``link up`` once it listens and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def relay(listen: tuple[str, int], target: tuple[str, int], stop: asyncio.Event) -> None:
    """Relay every connection to ``listen`` to ``target`` until ``stop`` is set; then close
    the listening socket and every relayed connection."""
    tasks: set[asyncio.Task[None]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*target)
        except OSError:
            client_w.close()
            return
        writers.update((client_w, server_w))
        both = [
            asyncio.ensure_future(_pipe(client_r, server_w)),
            asyncio.ensure_future(_pipe(server_r, client_w)),
        ]
        tasks.update(both)
        await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
        for w in (client_w, server_w):
            w.close()
            writers.discard(w)

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    sys.stdout.write("link up\n")
    sys.stdout.flush()
    async with server:
        await stop.wait()
        server.close()
        for w in list(writers):
            w.close()
        for t in list(tasks):
            t.cancel()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


async def _main(listen: tuple[str, int], target: tuple[str, int]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await relay(listen, target, stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m postex.network.link", description=__doc__)
    parser.add_argument("--listen", required=True, help="HOST:PORT the node connects to")
    parser.add_argument("--to", required=True, help="HOST:PORT of the NATS server")
    args = parser.parse_args(argv)
    asyncio.run(_main(_address(args.listen), _address(args.to)))


if __name__ == "__main__":
    main()
