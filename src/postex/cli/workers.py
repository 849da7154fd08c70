"""``postex serve --workers N``: uvicorn's supervisor, with a listening socket per worker.

uvicorn's own ``--workers`` gives every worker the one socket it bound: all of them wait on
it, and whichever wakes first accepts every connection queued. A few keep-alive
connections opened together (a reverse proxy's upstream pool, a load generator) then all
stay with one worker while the others idle: with 8 connections, 2 workers served no more
than 1 in three runs out of four (docs/benchmarks.md "Serving"). Here each worker listens
on a socket of its own, all bound to the one address with ``SO_REUSEPORT``, and the kernel
spreads new connections over them (by a hash of the client's address and port). The
supervisor binds the sockets once and keeps them: a worker that dies or is replaced
(``SIGHUP``) is followed by one on the same socket, and the connections that arrived
meanwhile wait in that socket's queue. Everything else is uvicorn's: the health checks,
the restarts, the signals.

Example: postex serve --port 8000 --workers 2
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process, logger

if TYPE_CHECKING:
    from uvicorn import Config


def listening_sockets(host: str, port: int, n: int) -> list[socket.socket]:
    """``n`` sockets bound to ``host:port`` with ``SO_REUSEPORT`` (each worker listens on
    its own; a port in use is refused by the first bind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    made: list[socket.socket] = []
    try:
        for _ in range(n):
            sock = socket.socket(family, socket.SOCK_STREAM)
            made.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.set_inheritable(True)
    except OSError:
        for sock in made:
            sock.close()
        raise
    return made


class Workers(Multiprocess):
    """uvicorn's :class:`Multiprocess`, the worker at index ``i`` always on socket ``i``."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.processes_num = len(sockets)

    def _start(self, index: int) -> Process:
        process = Process(self.config, [self.sockets[index]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._start(i) for i in range(self.processes_num)]

    def restart_all(self) -> None:
        """``SIGHUP``: each worker replaced in turn, its successor ready before it stops."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    logger.error(
                        "worker [%s] was not ready in time; keeping [%s]", new.pid, old.pid
                    )
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung, or gone
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # it would fail the same way again
                logger.error("worker [%s] failed to start, stopping", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info("worker [%s] died; starting another", process.pid)
            self.processes[index] = self._start(index)
