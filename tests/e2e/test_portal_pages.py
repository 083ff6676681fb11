"""The provider portal's read side through the running gateway, with the departments behind it:
a referral the jobcenter makes shows in the inbox and on the start page, is found by the
citizen's name, and shows its offer, contact, history and the measures shared on consent; a
report's page shows the closed loop once the jobcenter acted. Another provider's person reaches
none of it: its referral and submission answer 404 exactly as a missing one does."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from babel.dates import format_date

from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, visible_to_provider
from tests.e2e.test_progress_reports import danish_today
from tests.e2e.test_provider_shares import HOUSING, TREATMENT, shared
from tests.infra import Infra
from tests.portal_support import PortalClient, add_portal_person
from tests.support import produce, wait_for

pytestmark = pytest.mark.e2e


async def refer_named(
    stack: RunningStack,
    provider_id: str,
    name: str,
    subject: str | None = None,
    offer: dict[str, Any] | None = None,
    interval_days: int = 28,
) -> str:
    """The jobcenter refers a citizen, shown to the provider as ``name``, through its API."""
    subject = subject or await stack.enrol()
    async with stack.employment() as employment:
        response = await employment.post(
            "/v1/referrals",
            json={
                "citizen_ref": subject,
                "provider_id": provider_id,
                "offer": offer
                or {
                    "kind": "activation",
                    "title": "Værkstedsforløb med praktik",
                    "hours_per_week": 12.5,
                    "starts_on": "2027-01-04",
                    "expected_end_on": "2027-06-30",
                },
                "citizen_display_name": name,
                "jobcenter_contact": {
                    "name": "Kim Testesen",
                    "phone": "+45 12 34 56 78",
                    "email": "kim.testesen@jobcenter.example",
                },
                "reporting_interval_days": interval_days,
            },
        )
    assert response.status_code == 201, response.text
    referral_id: str = response.json()["referral_id"]
    return referral_id


async def portal_person(stack: RunningStack, provider_id: str) -> tuple[str, str]:
    email = f"kontakt-{uuid.uuid4().hex[:8]}@example.org"
    password = await add_portal_person(stack.env["PROVIDER_GATEWAY_DATABASE_URL"], provider_id, email)
    return email, password


async def logged_in(stack: RunningStack, provider_id: str) -> PortalClient:
    portal = PortalClient(stack.url("provider-gateway"))
    answer = await portal.log_in(*await portal_person(stack, provider_id))
    assert answer.status_code == 303, answer.text
    return portal


def text_of(page: str) -> str:
    """The page's words, tags gone and white space squeezed, as a reader sees them."""
    return re.sub(r"\s+([:.,)])", r"\1", re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def page_listing(portal: PortalClient, path: str, referral_id: str, **params: Any) -> str | None:
    page = await portal.get(path, params=params)
    assert page.status_code == 200, page.text
    return page.text if f"/portal/referrals/{referral_id}" in page.text else None


async def audit_paths(stack: RunningStack, provider_id: str, like: str) -> list[str]:
    conn = await asyncpg.connect(stack.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        found = await conn.fetch(
            "SELECT path FROM audit.audit_log WHERE provider_id = $1 AND path LIKE $2 ORDER BY id",
            provider_id,
            like,
        )
    finally:
        await conn.close()
    return [row["path"] for row in found]


async def test_a_new_referral_is_on_the_start_page_and_in_the_inbox_found_by_name_and_no_one_elses(
    running_stack: RunningStack,
) -> None:
    provider, other = f"dagcenter-{uuid.uuid4().hex[:6]}", f"skole-{uuid.uuid4().hex[:6]}"
    surname = f"Nørgaard{uuid.uuid4().hex[:4]}"
    referral_id = await refer_named(running_stack, provider, f"Freja {surname}")
    async with (
        await logged_in(running_stack, provider) as portal,
        await logged_in(running_stack, other) as rival,
    ):
        inbox = await wait_for(lambda: page_listing(portal, "/portal/referrals", referral_id))
        assert f"Freja {surname}" in inbox and "Værkstedsforløb med praktik" in inbox
        assert "12,5" in inbox  # hours as a Dane writes them
        assert await page_listing(portal, "/portal/referrals", referral_id, tab="new")
        assert await page_listing(portal, "/portal/referrals", referral_id, q=surname.lower()[:6])
        assert await page_listing(portal, "/portal/referrals", referral_id, q="freja " + surname)
        assert await page_listing(portal, "/portal/referrals", referral_id, q="Ukendtnavn") is None
        assert await page_listing(portal, "/portal/referrals", referral_id, tab="closed") is None
        # An address edited by hand shows the first page of all, never an error.
        assert await page_listing(portal, "/portal/referrals", referral_id, tab="bogus", cursor="x")

        # The searches are in the inbox's audit rows, each with what was searched for.
        searched = await audit_paths(running_stack, provider, "/portal/referrals%")
        assert f"/portal/referrals#search:{surname.lower()[:6]}" in searched
        assert "/portal/referrals#search:Ukendtnavn" in searched

        start = await portal.get("/portal/")
        assert f"Ny henvisning af Freja {surname}" in text_of(start.text)
        assert f'href="/portal/referrals/{referral_id}"' in start.text
        # Viewing the start page marks nothing (a link from another site cannot clear it): new
        # until the person marks it seen with the page's form, which needs the page's token.
        again = await portal.get("/portal/")
        assert f"Ny henvisning af Freja {surname}" in text_of(again.text)
        shown = re.search(r'name="up_to" value="(\d+)"', again.text)
        assert shown is not None, again.text
        forged = await portal.post("/portal/seen", {"up_to": shown.group(1), "csrf_token": "forged"})
        assert forged.status_code == 403
        assert (await portal.post("/portal/seen", {"up_to": "many"})).status_code == 400
        await portal.get("/portal/")
        marked = await portal.post("/portal/seen", {"up_to": shown.group(1)})
        assert marked.status_code == 303 and marked.headers["location"] == "/portal/"
        after = text_of((await portal.get("/portal/")).text)
        assert "Intet nyt, siden du sidst markerede beskederne som set" in after
        assert f"Freja {surname}" in after  # among those seen before

        # The other provider's person: not in their inbox, search or start page, and its page
        # answers exactly as a referral that does not exist.
        assert await page_listing(rival, "/portal/referrals", referral_id) is None
        assert await page_listing(rival, "/portal/referrals", referral_id, q=surname) is None
        assert surname not in (await rival.get("/portal/")).text
        theirs = await rival.get(f"/portal/referrals/{referral_id}")
        missing = await rival.get(f"/portal/referrals/{uuid.uuid4()}")
        assert theirs.status_code == missing.status_code == 404
        assert theirs.text == missing.text and surname not in theirs.text


async def test_the_referral_page_shows_offer_contact_history_and_the_measures_shared_on_consent(
    running_stack: RunningStack, infra: Infra
) -> None:
    provider = f"vaerksted-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer_named(running_stack, provider, "Mikkel Ørum", subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        assert (await gateway.post(f"/v1/referrals/{referral_id}/accept", json={})).status_code == 200
        held = await gateway.post(f"/v1/referrals/{referral_id}/hold", json={"reason": "Indlagt i tre uger."})
        assert held.status_code == 200, held.text
        await produce(infra.bootstrap_servers, shared(subject, uuid.uuid4(), provider, [TREATMENT, HOUSING]))

        async def with_measures() -> dict[str, Any] | None:
            referral = await visible_to_provider(gateway, referral_id)
            return referral if referral and referral["shared_social_measures"] else None

        api = await wait_for(with_measures)

    async with await logged_in(running_stack, provider) as portal:
        page = await portal.get(f"/portal/referrals/{referral_id}")
    assert page.status_code == 200, page.text
    shown = text_of(page.text)
    assert "Mikkel Ørum" in shown and "Værkstedsforløb med praktik" in shown
    assert "12,5" in shown and "4. januar 2027" in shown and "30. juni 2027" in shown
    assert "Kim Testesen" in shown and 'href="tel:+4512345678"' in page.text
    assert "kim.testesen@jobcenter.example" in shown
    # The history, oldest first, with who took each step and why.
    history = text_of(page.text.split('id="status-history"')[1].split("</table>")[0])
    assert re.search(
        r"Ny, afventer dit svar Jobcentret .*Accepteret Jeres organisation .*"
        r"På pause Jeres organisation Indlagt i tre uger\.",
        history,
    )
    # The measures exactly as the API shows them, in its order, with their dates.
    measures = text_of(page.text.split('id="shared-measures"')[1].split("</table>")[0])
    assert [m["category"] for m in api["shared_social_measures"]] == [
        "housing-support",
        "mental-health-treatment",
    ]
    assert re.search(
        r"Bostøtte 1\. oktober 2026 Løbende Mulig .*"
        r"Psykiatrisk behandling 1\. november 2026 31\. januar 2027 Bør vente",
        measures,
    )
    assert "samtykke" in shown
    assert subject not in page.text  # the citizen's reference is never on a page


async def test_the_submission_page_shows_the_closed_loop_once_the_jobcenter_acted_and_no_one_elses(
    running_stack: RunningStack,
) -> None:
    provider = f"aktiv-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer_named(running_stack, provider, "Sofie Lund", subject)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        sent = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices",
            json={"absent_from": "2026-11-16", "reason": "illness", "comment": "Ikke set siden mandag."},
        )
        assert sent.status_code == 202, sent.text
        submission_id = sent.json()["submission_id"]

        async def in_state(status: str) -> dict[str, Any] | None:
            submission: dict[str, Any] = (await gateway.get(f"/v1/submissions/{submission_id}")).json()
            return submission if submission["status"] == status else None

        acted_on = await wait_for(lambda: in_state("acted-on"))
        async with await logged_in(running_stack, provider) as portal:
            provisional = text_of((await portal.get(f"/portal/submissions/{submission_id}")).text)
            assert "Fraværsmelding: Sofie Lund" in provisional
            assert "Behandlet" in provisional and "foreløbig" in provisional.lower()
            due = date.fromisoformat(acted_on["acknowledgements"][-1]["task_due_on"])
            assert "Jobcentret: Der er oprettet en opgave til en sagsbehandler" in provisional
            assert (
                f"Sagsbehandlerens opgave har frist {format_date(due, 'd. MMMM y', locale='da')}"
                in provisional
            )

            async with running_stack.employment() as employment:
                assessed = await employment.post(
                    f"/v1/citizens/{subject}/absence-assessments",
                    json={
                        "submission_id": submission_id,
                        "acceptable": True,
                        "action_taken": "no-action-needed",
                        "note": "Sygemeldt; lægeerklæring modtaget.",
                        "note_to_provider": "Lægeerklæring modtaget; forventes tilbage mandag.",
                    },
                )
                assert assessed.status_code == 204, assessed.text
            await wait_for(lambda: in_state("final"))

            page = await portal.get(f"/portal/submissions/{submission_id}")
            assert page.status_code == 200
            final = text_of(page.text)
            loop = text_of(page.text.split('id="closed-loop"')[1].split("</ol>")[0])
            assert "ikke endnu" not in loop  # every state reached, each with its time
            assert loop.count(" kl. ") == 4
            assert "Fraværet er acceptabelt" in final
            assert "Begrundelse: Lægeerklæring modtaget; forventes tilbage mandag." in final
            assert "Sygemeldt" not in final  # the caseworker's own note stays at the jobcenter
            assert "Endelig" in final
            # The referral page lists the report with its state, linked to this page.
            referral_page = await portal.get(f"/portal/referrals/{referral_id}")
            assert f'href="/portal/submissions/{submission_id}"' in referral_page.text

    other = f"andet-{uuid.uuid4().hex[:6]}"
    async with await logged_in(running_stack, other) as rival:
        theirs = await rival.get(f"/portal/submissions/{submission_id}")
        missing = await rival.get(f"/portal/submissions/{uuid.uuid4()}")
        assert theirs.status_code == missing.status_code == 404
        assert theirs.text == missing.text and "Sofie Lund" not in theirs.text
        assert (await rival.get("/portal/submissions/not-an-id")).text == missing.text


async def test_an_overdue_progress_report_is_marked_in_the_inbox_on_the_referral_and_told_on_the_start_page(
    running_stack: RunningStack,
) -> None:
    provider = f"rapport-{uuid.uuid4().hex[:6]}"
    today = danish_today()
    offer = {
        "kind": "mentor",
        "title": "Mentorstøtte",
        "hours_per_week": 3,
        "starts_on": str(today - timedelta(days=30)),
    }
    referral_id = await refer_named(running_stack, provider, "Ahmad Karimi", offer=offer, interval_days=7)
    due = today - timedelta(days=3)  # started ten days ago, a report every seven days
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        for step, body in (("accept", {}), ("start", {"occurred_on": str(today - timedelta(days=10))})):
            assert (await gateway.post(f"/v1/referrals/{referral_id}/{step}", json=body)).status_code == 200

        async def marked() -> dict[str, Any] | None:
            seen = await visible_to_provider(gateway, referral_id)
            return seen if seen and seen["progress_report_overdue_since"] else None

        await wait_for(marked)

    def danish(day: date) -> str:
        return format_date(day, "d. MMMM y", locale="da")

    async with await logged_in(running_stack, provider) as portal:

        async def told() -> str | None:
            start = text_of((await portal.get("/portal/")).text)
            return start if "Statusrapporten om Ahmad Karimi" in start else None

        start = await wait_for(told)
        assert f"Statusrapporten om Ahmad Karimi skulle være sendt {danish(due)} og er ikke modtaget" in start
        inbox = await page_listing(portal, "/portal/referrals", referral_id, tab="active")
        assert inbox is not None and "Statusrapport overskredet" in text_of(inbox)
        referral = text_of((await portal.get(f"/portal/referrals/{referral_id}")).text)
        assert (
            f"Næste statusrapport senest {danish(due)} Overskredet siden {danish(due + timedelta(days=1))}"
            in referral
        )
        assert "Hver 7. dag" in referral


async def test_a_page_asked_for_without_a_session_sends_to_the_login_page(
    running_stack: RunningStack,
) -> None:
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as anonymous:
        for path in (
            "/portal/referrals",
            f"/portal/referrals/{uuid.uuid4()}",
            f"/portal/submissions/{uuid.uuid4()}",
        ):
            answer = await anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/portal/login?next=")
