"""The web console in a real browser (Debian's chromium through Playwright) against a live ``corral serve`` whose
model is the scripted model server: signing in, agents and their versions, sessions and their filters, a live
timeline, steering a session (a message, an approval, an interrupt), escaping, CSRF and a key that stops working.

Each test waits on what the page shows (Playwright's ``expect`` polls the DOM), never on the clock. The last test
restarts the server with another key, so it stays last.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from corral._types import json_list, json_object
from corral.testing import ScriptedModelServer, reply, text, thinking, tool_use
from tests.console.conftest import TIMEOUT_MS
from tests.live import LiveServer
from tests.sdk_server import run_turn, sdk

pytestmark = pytest.mark.timeout(300)
expect.set_options(timeout=TIMEOUT_MS)

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> & done'
BETA = {"anthropic-beta": "managed-agents-2026-04-01"}


def sign_in(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page: Page, server: LiveServer) -> None:
    page.goto("/console/login")
    sign_in(page, server.api_key)
    expect(page.get_by_role("heading", name="Sessions", exact=True)).to_be_visible()


def new_session(page: Page, policy: str = "always_allow", system: str = "") -> str:
    """An agent, an environment and a session made through the console's forms; the session page is open and
    its live view connected. Returns the session id."""
    name = f"agent-{secrets.token_hex(3)}"
    page.goto("/console/agents")
    page.get_by_label("Name").fill(name)
    page.get_by_label("System prompt").fill(system)
    page.get_by_label("Permission policy for the toolset").select_option(policy)
    page.get_by_role("button", name="Create agent").click()
    expect(page.get_by_role("heading", name=f"Agent {name}")).to_be_visible()
    page.goto("/console/environments")
    page.get_by_label("Name").fill(f"env-{name}")
    page.get_by_role("button", name="Create environment").click()
    page.goto("/console/sessions")
    page.get_by_label("Agent", exact=True).last.select_option(label=f"{name} (v1)")
    page.get_by_label("Environment").select_option(label=f"env-{name}")
    page.get_by_label("Title").fill(f"session of {name}")
    page.get_by_role("button", name="Start session").click()
    expect(page.get_by_role("heading", name=f"Session session of {name}")).to_be_visible()
    live(page)
    return page.url.rsplit("/", 1)[-1].split("#")[0]


def live(page: Page) -> None:
    expect(page.locator("#live")).to_have_text("Live: new events appear as they happen.")


def send_by_api(server: LiveServer, session_id: str, prompt: str) -> None:
    event = {"type": "user.message", "content": [{"type": "text", "text": prompt}]}
    answer = httpx.post(
        f"{server.base_url}/v1/sessions/{session_id}/events",
        headers={"x-api-key": server.api_key, **BETA},
        json={"events": [event]},
        trust_env=False,
    )
    answer.raise_for_status()


def say(page: Page, prompt: str) -> None:
    page.get_by_label("Message").fill(prompt)
    page.get_by_role("button", name="Send message").click()


def test_sign_in_refuses_a_wrong_key_and_keeps_the_right_one_in_an_http_only_cookie(
    page: Page, context: BrowserContext, server: LiveServer, shots: Path
) -> None:
    page.goto("/console/sessions")
    expect(page).to_have_url(f"{server.base_url}/console/login?reason=signed_out&next=/console/sessions")
    expect(page.get_by_role("alert")).to_have_text("Sign in with an API key to use the console.")
    page.screenshot(path=shots / "login.png")
    sign_in(page, "sk-not-a-key")
    expect(page.get_by_role("alert")).to_have_text("That API key is not valid: it is unknown or was revoked.")
    page.goto("/console/login")  # by keyboard alone: the skip link, then the key field, then Enter
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "api_key"
    page.keyboard.type(server.api_key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sessions", exact=True)).to_be_visible()
    (cookie,) = context.cookies()
    assert (cookie.get("httpOnly"), cookie.get("sameSite"), cookie.get("path")) == (True, "Strict", "/console")
    assert server.api_key not in cookie.get("value", "")  # sealed, not merely signed
    assert page.evaluate("document.cookie") == "" and page.evaluate("localStorage.length") == 0
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("alert")).to_have_text("You are signed out.")
    page.goto("/console/agents")
    expect(page).to_have_url(f"{server.base_url}/console/login?reason=signed_out&next=/console/agents")


def test_a_reply_streams_into_the_open_page_and_html_in_it_shows_as_text(
    page: Page, server: LiveServer, model: ScriptedModelServer
) -> None:
    model.set_script({"replies": [reply(text(XSS))]})
    signed_in(page, server)
    session_id = new_session(page)
    page.evaluate("window.__still_here = true")
    send_by_api(server, session_id, "Say something dangerous.")  # not through the page: only the stream shows it
    expect(page.locator("#timeline .kind-message .text")).to_have_text(XSS)
    expect(page.locator("#status")).to_have_text("idle")
    assert page.evaluate("window.__still_here") is True  # the page was never reloaded: it came live
    expect(page.locator("#timeline .kind-user")).to_have_count(1)  # each event once
    expect(page.locator("#timeline .kind-message")).to_have_count(1)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#timeline img, #timeline script").count() == 0
    page.reload()  # and rendered from the log on load
    expect(page.locator("#timeline .kind-message .text")).to_have_text(XSS)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#timeline img, #timeline script").count() == 0


def test_the_live_stream_resumes_after_the_last_event_seen_and_needs_the_cookie(
    page: Page, context: BrowserContext, server: LiveServer, model: ScriptedModelServer
) -> None:
    """What a browser's ``EventSource`` does by itself when it reconnects (a dropped connection, a restart)."""
    model.set_script({"replies": [reply(text("One."))]})
    signed_in(page, server)
    session_id = new_session(page)
    send_by_api(server, session_id, "Count.")
    expect(page.locator("#timeline .kind-status .title").last).to_have_text("Status: idle (end_turn)")
    seen = [
        int(seq or 0) for seq in page.locator("#timeline li").evaluate_all("items => items.map(i => i.dataset.seq)")
    ]
    url = f"{server.base_url}/console/sessions/{session_id}/stream"
    cookies = {cookie.get("name", ""): cookie.get("value", "") for cookie in context.cookies()}
    resumed: list[int] = []
    with httpx.stream("GET", url, headers={"Last-Event-ID": str(seen[0])}, cookies=cookies, trust_env=False) as got:
        assert got.status_code == 200
        for line in got.iter_lines():
            if line.startswith("id: "):
                resumed.append(int(line.removeprefix("id: ")))
            if len(resumed) == len(seen) - 1:
                break
    assert resumed == seen[1:]  # each event after the one named, once, in order
    assert httpx.get(url, trust_env=False).status_code == 401


def test_a_tool_call_waits_for_approval_and_its_result_shows(
    page: Page, server: LiveServer, model: ScriptedModelServer, shots: Path
) -> None:
    model.set_script(
        {
            "replies": [
                reply(thinking("The user wants a listing."), tool_use("bash", {"command": "echo '<b>ran</b>'"})),
                reply(text("All done.")),
            ]
        }
    )
    signed_in(page, server)
    new_session(page, policy="always_ask")
    say(page, "Run it.")
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_visible()
    expect(page.locator("#status")).to_have_text("idle")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".kind-thinking .text")).to_have_text("The user wants a listing.")
    expect(timeline.locator(".kind-tool .title")).to_have_text("Tool call: bash (permission: ask)")
    expect(timeline.locator(".kind-tool .detail")).to_contain_text("echo '<b>ran</b>'")
    page.screenshot(path=shots / "session-approval.png", full_page=True)
    approve.click()
    expect(timeline.locator(".kind-message .text")).to_have_text("All done.")
    expect(timeline.locator(".kind-user .title").last).to_have_text("Tool call approved")
    expect(timeline.locator(".kind-result .text")).to_have_text("<b>ran</b>")
    assert timeline.locator("b").count() == 0
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    spans = timeline.locator(".kind-span .text")
    expect(spans.last).to_contain_text(" in / ")
    expect(spans.last).to_contain_text(" out tokens, ")
    expect(spans.last).to_contain_text(" s")
    expect(page.locator("#status")).to_have_text("idle")
    page.screenshot(path=shots / "session.png", full_page=True)


def test_a_reply_shows_as_it_is_written_and_interrupt_stops_it(
    page: Page, server: LiveServer, model: ScriptedModelServer
) -> None:
    long_reply = " ".join(f"word{i}" for i in range(2000))
    model.set_script({"replies": [{"content": [text(long_reply)], "latency": {"tokens_per_second": 20}}]})
    signed_in(page, server)
    new_session(page)
    say(page, "Write a lot.")
    writing = page.locator("#timeline .streaming .text").first  # a retried request would write another
    expect(writing).to_contain_text("word")  # fragments of the reply, before the reply is written
    expect(page.locator("#status")).to_have_text("running")
    page.get_by_role("button", name="Interrupt").click()
    expect(page.locator("#timeline .kind-user .title").last).to_have_text("Interrupted")
    expect(page.locator("#status")).to_have_text("idle")
    assert long_reply not in page.locator("#timeline").inner_text()


def test_a_custom_tool_call_takes_its_result_from_the_form(
    page: Page, server: LiveServer, model: ScriptedModelServer
) -> None:
    model.set_script({"replies": [reply(tool_use("lookup", {"city": "Lyon"})), reply(text("It is sunny."))]})
    lookup = {"type": "custom", "name": "lookup", "description": "weather", "input_schema": {"type": "object"}}
    made = httpx.post(
        f"{server.base_url}/v1/agents",
        headers={"x-api-key": server.api_key, **BETA},
        json={"name": "weather", "model": "claude-sonnet-4-6", "tools": [lookup]},
        trust_env=False,
    )
    made.raise_for_status()
    signed_in(page, server)
    page.goto("/console/environments")
    page.get_by_label("Name").fill("env-weather")
    page.get_by_role("button", name="Create environment").click()
    page.goto("/console/sessions")
    page.get_by_label("Agent", exact=True).last.select_option(label="weather (v1)")
    page.get_by_label("Environment").select_option(label="env-weather")
    page.get_by_role("button", name="Start session").click()
    live(page)
    say(page, "Weather in Lyon?")
    expect(page.locator("#timeline .kind-tool .title")).to_have_text("Custom tool call: lookup")
    page.get_by_label("Tool result").fill("sunny, 21 °C")
    page.get_by_role("button", name="Send result").click()
    expect(page.locator("#timeline .kind-result .text")).to_have_text("sunny, 21 °C")
    expect(page.locator("#timeline .kind-message .text")).to_have_text("It is sunny.")
    expect(page.get_by_role("button", name="Send result")).to_have_count(0)


def test_pages_read_and_forms_work_without_javascript(
    browser: Browser, server: LiveServer, model: ScriptedModelServer
) -> None:
    model.set_script({"replies": [reply(text("Plain <em>text</em>."))]})
    context = browser.new_context(base_url=server.base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        signed_in(page, server)
        page.goto("/console/agents")
        page.get_by_label("Name").fill("no-script")
        page.get_by_role("button", name="Create agent").click()
        page.goto("/console/environments")
        page.get_by_label("Name").fill("env-no-script")
        page.get_by_role("button", name="Create environment").click()
        page.goto("/console/sessions")
        page.get_by_label("Agent", exact=True).last.select_option(label="no-script (v1)")
        page.get_by_label("Environment").select_option(label="env-no-script")
        page.get_by_role("button", name="Start session").click()
        session_id = page.url.rsplit("/", 1)[-1]
        with sdk(server) as client:
            run_turn(client, session_id, "Hello.")  # waits for the turn's idle event
        page.reload()
        expect(page.locator("#live")).to_have_text("Showing the log as of this page load (reload for newer events).")
        expect(page.locator("#timeline .kind-message .text")).to_have_text("Plain <em>text</em>.")
        expect(page.locator("#status")).to_have_text("idle")
        say(page, "Thanks.")  # a plain form post, answered by a redirect back to the page
        expect(page.locator("#timeline .kind-user .text").last).to_have_text("Thanks.")
    finally:
        context.close()


def test_agents_keep_their_versions_and_show_a_diff(page: Page, server: LiveServer, shots: Path) -> None:
    signed_in(page, server)
    page.goto("/console/agents")
    page.get_by_label("Name").fill("reviewer")
    page.get_by_label("System prompt").fill("Be brief.")
    page.get_by_role("button", name="Create agent").click()
    expect(page.get_by_text("Only one version so far")).to_be_visible()
    page.get_by_label("System prompt").fill("Be thorough <and> careful.")
    page.get_by_role("button", name="Save as a new version").click()
    diff = page.get_by_label("Difference between version 1 and version 2")
    expect(diff).to_contain_text('-  "system": "Be brief.",')
    expect(diff).to_contain_text('+  "system": "Be thorough <and> careful.",')
    expect(page.locator("table").first.locator("tbody tr")).to_have_count(2)
    page.screenshot(path=shots / "agent.png")
    page.goto("/console/agents")
    expect(page.get_by_role("link", name="reviewer")).to_be_visible()
    page.screenshot(path=shots / "agents.png")


def test_sessions_filter_by_status_agent_and_date(page: Page, server: LiveServer, shots: Path) -> None:
    signed_in(page, server)
    session_id = new_session(page)
    agent_link = page.locator("p.meta").get_by_role("link").get_attribute("href") or ""
    agent_id = agent_link.rsplit("/", 1)[-1]
    page.goto("/console/sessions")
    expect(page.get_by_role("heading", name="Sessions", exact=True)).to_be_visible()
    page.screenshot(path=shots / "sessions.png", full_page=True)
    rows = page.locator("table tbody tr")
    page.goto(f"/console/sessions?status=idle&agent={agent_id}")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link")).to_have_attribute("href", f"/console/sessions/{session_id}")
    page.goto(f"/console/sessions?status=running&agent={agent_id}")
    expect(rows).to_have_text(["No sessions match."])
    page.goto(f"/console/sessions?agent={agent_id}&to=2020-01-01")
    expect(rows).to_have_text(["No sessions match."])
    page.goto("/console/sessions?status=sleeping")
    expect(page.get_by_role("alert")).to_contain_text("status must be one of")


def test_forms_without_the_session_csrf_token_are_refused(
    page: Page, context: BrowserContext, server: LiveServer
) -> None:
    signed_in(page, server)
    refused = context.request.post("/console/environments", form={"name": "forged"})
    assert refused.status == 403 and "CSRF check failed" in refused.text()
    refused = context.request.post("/console/environments", form={"name": "forged", "csrf": "guess"})
    assert refused.status == 403
    page.goto("/console/environments")
    expect(page.get_by_text("forged")).to_have_count(0)


def api(server: LiveServer, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    headers = {"x-api-key": server.api_key, **BETA}
    url = f"{server.base_url}{path}"
    got = httpx.post(url, headers=headers, json=body, trust_env=False) if body else httpx.get(url, headers=headers)
    got.raise_for_status()
    answer: dict[str, object] = got.json()
    return answer


def test_a_key_of_another_workspace_sees_and_steers_nothing_of_this_one(page: Page, server: LiveServer) -> None:
    agent = api(server, "/v1/agents", {"name": "private", "model": "claude-sonnet-4-6"})
    environment = api(server, "/v1/environments", {"name": "private-env"})
    session = api(server, "/v1/sessions", {"agent": agent["id"], "environment_id": environment["id"]})
    page.goto("/console/login")
    sign_in(page, server.create_key("elsewhere"))
    expect(page.locator("table tbody tr")).to_have_text(["No sessions match."])
    page.goto("/console/agents")
    expect(page.locator("table tbody tr")).to_have_text(["No agents yet."])
    answer = page.goto(f"/console/sessions/{session['id']}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("alert")).to_contain_text("not found")
    answer = page.goto(f"/console/agents/{agent['id']}")
    assert answer is not None and answer.status == 404
    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    sent = page.request.post(f"/console/sessions/{session['id']}/message", form={"csrf": csrf, "text": "hi"})
    assert sent.status == 404
    events = json_list(api(server, f"/v1/sessions/{session['id']}/events")["data"]) or []
    assert "user.message" not in [(json_object(event) or {}).get("type") for event in events]


def test_a_key_that_stops_working_shows_a_clear_message(page: Page, server: LiveServer) -> None:
    """The server restarts with another admin key while a session page is live: the page says why it stopped
    and signing in with the new key brings the person back to it. (Stays last: it changes the server's key.)"""
    signed_in(page, server)
    session_id = new_session(page)
    server.kill()  # a crash mid-stream (a graceful stop would first wait for the open stream)
    server.api_key = "sk-corral-test-" + secrets.token_urlsafe(24)
    server.start()
    live_view = page.locator("#live")
    expect(live_view).to_contain_text("Your sign-in is no longer valid")
    live_view.get_by_role("link", name="Sign in again").click()
    expect(page.get_by_role("alert")).to_contain_text("Your API key is no longer accepted")
    sign_in(page, server.api_key)
    expect(page).to_have_url(f"{server.base_url}/console/sessions/{session_id}")
    live(page)
