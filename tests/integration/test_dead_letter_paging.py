"""`samspil dlq list` pages the dead letters with a cursor: walking the pages by the command each
page prints shows every dead letter written before the walk exactly once (one committed late, in a
new listing from the start), the replayed ones only with --all, and never a payload (where a CPR
number could be)."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from samspil.cli import main
from samspil.runtime.db import migrate
from samspil.runtime.deadletters import replay_dead_letters
from samspil.runtime.paging import make_cursor
from tests.infra import Infra

PAYLOAD_MARK = "PAYLOAD-NEVER-PRINTED"
INSERT = (
    "INSERT INTO dead_letter (consumer, topic, kafka_partition, kafka_offset, header_names,"
    " header_values, payload, event_id, reason, error, attempts)"
    " SELECT 'employment', 't', 0, i, '{}', '{}', convert_to($1, 'UTF8'), 'e-' || i, 'rejected', 'e', 1"
    " FROM generate_series(1, $2) AS i RETURNING id"
)


@dataclass
class DeadLetters:
    url: str
    pending: list[int]
    replayed: list[int]


@pytest.fixture
async def dead_letters(infra: Infra) -> AsyncIterator[DeadLetters]:
    """Seven dead letters in the employment service's database, the 2nd and 5th replayed."""
    url = infra.create_database()
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        await migrate(pool, "samspil.runtime.migrations")
        ids = [row["id"] for row in await pool.fetch(INSERT, PAYLOAD_MARK, 7)]
        replayed = [ids[1], ids[4]]
        async with pool.acquire() as conn:
            assert await replay_dead_letters(conn, replayed) == 2
        yield DeadLetters(url, [i for i in ids if i not in replayed], replayed)
    finally:
        await pool.close()


async def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    # The CLI runs its own event loop: in a thread of its own.
    assert await asyncio.to_thread(main, argv) == 0
    captured = capsys.readouterr()
    assert PAYLOAD_MARK not in captured.out + captured.err
    return captured.out, captured.err


async def _walk(first: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[list[int], int]:
    """The ids on every page, following the command each page prints; and how many pages."""
    seen: list[int] = []
    argv, pages = first, 0
    while True:
        out, err = await _run(argv, capsys)
        pages += 1
        seen += [json.loads(line)["id"] for line in out.splitlines()]
        more = [line.removeprefix("More: ") for line in err.splitlines() if line.startswith("More: ")]
        if not more:
            return seen, pages
        [command] = more
        assert command.startswith("samspil ")
        argv = shlex.split(command)[1:]


async def test_dlq_list_pages_show_each_pending_dead_letter_once_and_replayed_ones_only_with_all(
    dead_letters: DeadLetters, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", dead_letters.url)

    seen, pages = await _walk(["dlq", "list", "employment", "--limit", "2"], capsys)
    assert seen == dead_letters.pending and pages == 3

    seen, pages = await _walk(["dlq", "list", "employment", "--limit", "3", "--all"], capsys)
    assert seen == sorted(dead_letters.pending + dead_letters.replayed) and pages == 3


async def test_dlq_list_json_is_the_shared_page_shape(
    dead_letters: DeadLetters, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", dead_letters.url)
    seen: list[int] = []
    argv = ["dlq", "list", "employment", "--limit", "4", "--json"]
    while True:
        out, _ = await _run(argv, capsys)
        page = json.loads(out)
        assert set(page) == {"items", "next_cursor"}
        assert all(item["replayed_at"] is None and "payload" not in item for item in page["items"])
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        argv = [*argv[:6], "--cursor", page["next_cursor"]]
    assert seen == dead_letters.pending


async def test_dlq_list_refuses_a_cursor_it_did_not_make(
    dead_letters: DeadLetters, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", dead_letters.url)
    assert await asyncio.to_thread(main, ["dlq", "list", "employment", "--cursor", "bm90LWEtY3Vyc29y"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "--cursor" in captured.err


@pytest.mark.parametrize("key", [2**63, -(2**63) - 1])
async def test_dlq_list_refuses_a_cursor_whose_id_is_out_of_range_like_any_other_bad_cursor(
    key: int, dead_letters: DeadLetters, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tampered cursor holding an id no bigint can hold is one the list did not make: the same
    one-line refusal, not a traceback from the database driver."""
    monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", dead_letters.url)
    tampered = make_cursor([key])
    assert await asyncio.to_thread(main, ["dlq", "list", "employment", "--cursor", tampered]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "--cursor" in captured.err


# As INSERT, with event ids of their own (so two writers do not wait on each other's unique key).
OWN_EVENTS = INSERT.replace("'e-' || i", "$1 || '-' || i")


async def test_dlq_list_a_dead_letter_committed_late_is_in_a_new_listing_and_no_walk_shows_one_twice(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two consumers dead-letter at once: the one that drew the lower id commits last, after the
    operator read the first page. The walk they are on may pass it by (as the help says: ids are
    drawn at insert, not at commit), but never shows a dead letter twice; listing again from the
    start shows it, with every other one, once."""
    url = infra.create_database()
    pool = await asyncpg.create_pool(url, min_size=2, max_size=2)
    try:
        await migrate(pool, "samspil.runtime.migrations")
        monkeypatch.setenv("EMPLOYMENT_DATABASE_URL", url)
        async with pool.acquire() as slow, slow.transaction():
            [late] = [row["id"] for row in await slow.fetch(OWN_EVENTS, "slow", 1)]
            early = [row["id"] for row in await pool.fetch(OWN_EVENTS, "fast", 2)]
            assert late < min(early)
            out, err = await _run(["dlq", "list", "employment", "--limit", "1"], capsys)
            [command] = [
                line.removeprefix("More: ") for line in err.splitlines() if line.startswith("More: ")
            ]
        # The slow consumer's transaction has committed now; the operator follows "More:".
        rest, _ = await _walk(shlex.split(command)[1:], capsys)
        walk = [json.loads(out)["id"], *rest]
        assert len(walk) == len(set(walk)) and set(walk) <= {late, *early}

        again, _ = await _walk(["dlq", "list", "employment", "--limit", "1"], capsys)
        assert again == [late, *early]
    finally:
        await pool.close()
