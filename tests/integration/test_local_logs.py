"""The local runner's logs (broker, PostgreSQL) are readable by their owner only, even when an
earlier run left them readable by everyone."""

from __future__ import annotations

import stat
from pathlib import Path

from samspil.local.runner import LocalStack, free_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_runner_makes_its_log_folder_and_the_broker_and_database_logs_private(server_dir: Path) -> None:
    logs = server_dir / "logs"
    logs.mkdir(mode=0o755)
    logs.chmod(0o755)
    for name in ("broker.log", "postgres.log"):
        (logs / name).write_text("an earlier run\n")
        (logs / name).chmod(0o644)
    stack = LocalStack(state_dir=server_dir, env={}, broker_port=free_port(), postgres_port=free_port())
    try:
        stack.start_infrastructure()
        assert stack.broker is not None and stack.postgres is not None
        assert mode(logs) == 0o700
        assert mode(logs / "broker.log") == 0o600
        assert mode(logs / "postgres.log") == 0o600
        assert (logs / "postgres.log").read_text().startswith("an earlier run\n")
    finally:
        stack.stop()
