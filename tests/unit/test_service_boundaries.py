"""No service imports another: the contracts in schemas/ and the common runtime are the only
shared code. Checked on the source itself, so a new file cannot slip past."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "employment": ROOT / "services/employment/employment",
    "social": ROOT / "services/social/social",
    "provider_gateway": ROOT / "services/provider-gateway/provider_gateway",
}


def imported_top_level_modules(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path))
    return found


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_imports_no_other_service(service: str) -> None:
    imports = imported_top_level_modules(SERVICES[service])
    others = {name: files for name, files in imports.items() if name in SERVICES and name != service}
    assert others == {}, f"{service} imports another service: {others}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_uses_no_local_runner_or_cli(service: str) -> None:
    imports = imported_top_level_modules(SERVICES[service])
    for file in imports.get("samspil", ()):
        source = Path(file).read_text()
        assert "samspil.local" not in source and "samspil.cli" not in source, file


def test_schemas_import_nothing_of_ours_but_schemas() -> None:
    imports = imported_top_level_modules(ROOT / "schemas")
    assert not set(imports) & {"samspil", *SERVICES}


def test_the_check_would_catch_a_cross_service_import(tmp_path: Path) -> None:
    (tmp_path / "leak.py").write_text("from employment.domain import tasks\n")
    assert "employment" in imported_top_level_modules(tmp_path)
