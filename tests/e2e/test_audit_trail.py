"""The audit trail through the running stack, each service on its own role that is no superuser:
the role may only insert and read its audit tables, one row per provider request commits with
the work or the caller gets 503 and nothing changes, and `samspil audit verify` passes on a
clean chain and names the row a superuser edited or deleted by hand."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

import asyncpg
import httpx
import pytest

from samspil.local.runner import SERVICES
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.support import wait_for

pytestmark = pytest.mark.e2e

AUDIT_TABLES = {
    "provider-gateway": {"audit.audit_log": "audit_log"},
    "social": {"audit.share_log": "share_log"},
    "employment": {"audit.share_log": "share_log"},
}


def service_url(stack: RunningStack, service: str) -> str:
    spec = next(s for s in SERVICES if s.name == service)
    return stack.env[f"{spec.env_prefix}DATABASE_URL"]


@asynccontextmanager
async def as_superuser(stack: RunningStack, service: str) -> AsyncIterator[asyncpg.Connection]:
    database = unquote(urlsplit(service_url(stack, service)).path.lstrip("/"))
    conn = await asyncpg.connect(stack.admin_dsn, database=database)
    try:
        yield conn
    finally:
        await conn.close()


def audit_verify(stack: RunningStack, service: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "samspil.cli",
            "--state-dir",
            str(stack.stack.state_dir),
            "audit",
            "verify",
            service,
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("service", [spec.name for spec in SERVICES])
async def test_a_service_role_may_only_insert_and_read_its_audit_tables(
    running_stack: RunningStack, service: str
) -> None:
    conn = await asyncpg.connect(service_url(running_stack, service))
    try:
        assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        for table, name in AUDIT_TABLES[service].items():
            await conn.fetchval(f"SELECT count(*) FROM {table}")
            refused = [
                f"UPDATE {table} SET chain_hash = 'x'",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
                f"ALTER TABLE {table} DISABLE TRIGGER {name}_append_only",
                f"DROP TRIGGER {name}_append_only ON {table}",
                f"DROP TRIGGER {name}_chain ON {table}",
                f"DROP TABLE {table}",
                f"ALTER TABLE {table} RENAME TO forgotten",
                "CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql"
                " AS 'BEGIN RETURN NULL; END'",
                "CREATE TABLE audit.decoy (id int)",
                "DROP SCHEMA audit CASCADE",
                "ALTER SCHEMA audit RENAME TO forgotten",
            ]
            for statement in refused:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=running_stack.url(service)) as client:
        ready = (await client.get("/readyz")).json()
    assert "notices" not in ready, ready


async def test_every_provider_request_leaves_one_row_that_commits_with_its_work(
    running_stack: RunningStack,
) -> None:
    provider = f"revision-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    url = f"/v1/referrals/{referral_id}/absence-notices"
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        key = {"Idempotency-Key": f"audit-{uuid.uuid4().hex}"}
        first = await gateway.post(url, json={"absent_from": "2026-11-16"}, headers=key)
        replayed = await gateway.post(url, json={"absent_from": "2026-11-16"}, headers=key)
        refused = await gateway.post(url, json={"absent_from": "not a date"})
    assert (first.status_code, replayed.status_code, refused.status_code) == (202, 202, 422)
    conn = await asyncpg.connect(service_url(running_stack, "provider-gateway"))
    try:
        rows = await conn.fetch(
            "SELECT status, outcome, citizen_ref FROM audit.audit_log"
            " WHERE provider_id = $1 AND method = 'POST' AND path = $2 ORDER BY id",
            provider,
            url,
        )
    finally:
        await conn.close()
    assert [(row["status"], row["outcome"]) for row in rows] == [(202, "ok"), (202, "ok"), (422, "refused")]
    assert rows[0]["citizen_ref"] is not None


async def test_a_request_whose_audit_row_cannot_be_written_gets_503_and_changes_nothing(
    running_stack: RunningStack,
) -> None:
    provider = f"uden-spor-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    role = unquote(urlsplit(service_url(running_stack, "provider-gateway")).username or "")
    url = f"/v1/referrals/{referral_id}/absence-notices"
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        async with as_superuser(running_stack, "provider-gateway") as admin:
            await admin.execute(f'REVOKE INSERT ON audit.audit_log FROM "{role}"')
            try:
                read = await gateway.get("/v1/referrals")
                notice = await gateway.post(url, json={"absent_from": "2026-11-16"})
                token = await gateway.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
                )
            finally:
                await admin.execute(f'GRANT INSERT ON audit.audit_log TO "{role}"')
            submissions = await admin.fetchval(
                "SELECT count(*) FROM submission WHERE referral_id = $1", uuid.UUID(referral_id)
            )
        for response in (read, notice, token):
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"].endswith("audit-unavailable")
        assert submissions == 0
        again = await gateway.post(url, json={"absent_from": "2026-11-16"})
        assert again.status_code == 202, again.text


async def test_audit_verify_passes_on_a_clean_chain_and_names_the_row_edited_or_deleted_by_hand(
    running_stack: RunningStack,
) -> None:
    provider = f"revisor-{uuid.uuid4().hex[:6]}"
    async with provider_client(running_stack, provider) as gateway:
        # 17 rows in at most 16 chain lanes: two share one, so a row of this provider's has a
        # successor in its lane (whose link breaks when the row is deleted).
        for _ in range(17):
            assert (await gateway.get("/v1/referrals")).status_code == 200
    clean = audit_verify(running_stack, "provider-gateway")
    assert clean.returncode == 0, clean.stderr
    assert "audit.audit_log:" in clean.stdout and "chain intact" in clean.stdout
    assert "unprotected" not in clean.stderr

    async with as_superuser(running_stack, "provider-gateway") as admin:
        middle = await admin.fetchrow(
            "SELECT * FROM audit.audit_log AS entry WHERE provider_id = $1 AND EXISTS (SELECT 1"
            " FROM audit.audit_log AS successor WHERE successor.chain_lane = entry.chain_lane"
            " AND successor.chain_seq = entry.chain_seq + 1) ORDER BY id LIMIT 1",
            provider,
        )
        assert middle is not None
        # What an attacker with superuser power would do: switch the guard off, edit, switch it on.
        async with admin.transaction():
            await admin.execute("ALTER TABLE audit.audit_log DISABLE TRIGGER audit_log_append_only")
            await admin.execute("UPDATE audit.audit_log SET status = 403 WHERE id = $1", middle["id"])
            await admin.execute("ALTER TABLE audit.audit_log ENABLE TRIGGER audit_log_append_only")
        edited = audit_verify(running_stack, "provider-gateway")
        async with admin.transaction():  # put it back, so the chain holds for the tests after this one
            await admin.execute("ALTER TABLE audit.audit_log DISABLE TRIGGER audit_log_append_only")
            await admin.execute(
                "UPDATE audit.audit_log SET status = $2 WHERE id = $1", middle["id"], middle["status"]
            )
            await admin.execute("ALTER TABLE audit.audit_log ENABLE TRIGGER audit_log_append_only")
        restored = audit_verify(running_stack, "provider-gateway")

        async with admin.transaction():
            await admin.execute("ALTER TABLE audit.audit_log DISABLE TRIGGER USER")
            await admin.execute("DELETE FROM audit.audit_log WHERE id = $1", middle["id"])
            await admin.execute("ALTER TABLE audit.audit_log ENABLE TRIGGER USER")
        deleted = audit_verify(running_stack, "provider-gateway")
        columns = list(middle.keys())
        async with admin.transaction():
            await admin.execute("ALTER TABLE audit.audit_log DISABLE TRIGGER USER")
            await admin.execute(
                f"INSERT INTO audit.audit_log ({', '.join(columns)})"
                f" VALUES ({', '.join(f'${n}' for n in range(1, len(columns) + 1))})",
                *middle.values(),
            )
            await admin.execute("ALTER TABLE audit.audit_log ENABLE TRIGGER USER")
    assert edited.returncode == 1
    lane = f"lane {middle['chain_lane']} at"
    assert (
        f"{lane} seq {middle['chain_seq']} (row id {middle['id']})" in edited.stderr
        and "edited" in edited.stderr
    )
    assert restored.returncode == 0, restored.stderr
    assert deleted.returncode == 1
    assert f"{lane} seq {middle['chain_seq'] + 1} " in deleted.stderr and "missing" in deleted.stderr
    assert audit_verify(running_stack, "provider-gateway").returncode == 0


@pytest.mark.parametrize("service", [spec.name for spec in SERVICES])
def test_audit_verify_passes_for_every_service_and_reports_it_protected(
    running_stack: RunningStack, service: str
) -> None:
    result = audit_verify(running_stack, service)
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == list(AUDIT_TABLES[service])
    assert all("chain intact" in line for line in result.stdout.splitlines())
    assert "unprotected" not in result.stderr
