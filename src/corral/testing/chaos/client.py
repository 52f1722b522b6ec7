"""The chaos run's HTTP client: every call goes to the API processes in turn until one answers, so that a killed,
restarting or paused process, a database being restarted or a full disk delays the run but never stops it.

Invariants:

* A write is acknowledged only by a 2xx answer; ``acked`` records every acknowledged ``user.message`` per session
  in acknowledgement order (the run's claim: each is stored exactly once, in that order).
* A message whose send got no answer (connection cut) may or may not be stored: before sending it again the
  client looks for it by its text (unique per session and turn), so a lost answer never makes a duplicate.
* Every non-2xx answer other than a 404 or 409 is retried; a 5xx other than 502/503/504 is recorded in ``errors``
  (a crash of the API is a connection error, never a 500: a 500 is a finding).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from corral._types import JSONObject, json_list, json_object
from corral.vocab.tools import TOOLSET

BETA = "managed-agents-2026-04-01"
#: answers a call retries (the server is down, restarting, its database is, or its disk is full)
_TRANSIENT = {429, 502, 503, 504}


class Unanswered(Exception):
    """No API process gave a final answer within the call's time."""


@dataclass
class Client:
    urls: Callable[[], list[str]]
    api_key: str
    #: seconds one call keeps trying before it fails the run
    patience: float = 180.0
    acked: dict[str, list[str]] = field(default_factory=lambda: dict[str, list[str]]())
    errors: list[str] = field(default_factory=lambda: list[str]())
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(trust_env=False, timeout=30.0))

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, body: JSONObject | None = None) -> httpx.Response:
        """The first final answer (2xx or a deterministic 4xx) from any API process."""
        headers = self._headers()
        deadline = time.monotonic() + self.patience
        attempt = 0
        while time.monotonic() < deadline:
            urls = self.urls()
            url = urls[attempt % len(urls)]
            attempt += 1
            try:
                response = self._http.request(method, url + path, json=body, headers=headers)
            except httpx.TransportError:
                _pause(attempt)
                continue
            if response.status_code < 500 and response.status_code not in _TRANSIENT:
                return response
            if response.status_code not in _TRANSIENT:
                self.errors.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
            _pause(attempt)
        raise Unanswered(f"{method} {path}: no API process answered in {self.patience:.0f} s")

    def attempt(self, method: str, path: str, body: JSONObject | None = None) -> httpx.Response | None:
        """One try at each API process in turn: the first answer, whatever its status (None: none answered)."""
        for url in self.urls():
            try:
                return self._http.request(method, url + path, json=body, headers=self._headers())
            except httpx.TransportError:
                continue
        return None

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key, "anthropic-version": "2023-06-01", "anthropic-beta": BETA}

    def ok(self, method: str, path: str, body: JSONObject | None = None) -> JSONObject:
        response = self.call(method, path, body)
        if response.status_code >= 300:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        found = json_object(response.json())
        assert found is not None, f"{method} {path}: not a JSON object"
        return found

    def new_session(self, name: str) -> str:
        tools: list[Any] = [{"type": TOOLSET}]
        agent = self.ok("POST", "/v1/agents", {"name": name, "model": "claude-sonnet-4-6", "tools": tools})
        environment = self.ok("POST", "/v1/environments", {"name": name})
        session = self.ok("POST", "/v1/sessions", {"agent": agent["id"], "environment_id": environment["id"]})
        self.acked[str(session["id"])] = []
        return str(session["id"])

    def send(self, session_id: str, prompt: str) -> str:
        """Send a ``user.message`` of text ``prompt``; its id once acknowledged (looked up if the answer was lost)."""
        event: JSONObject = {"type": "user.message", "content": [{"type": "text", "text": prompt}]}
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            already = self.find_message(session_id, prompt)
            if already is not None:
                self.acked[session_id].append(already)
                return already
            try:
                sent = self._send_once(session_id, event)
            except Unanswered:
                continue
            if sent is not None:
                self.acked[session_id].append(sent)
                return sent
        raise Unanswered(f"a message to {session_id} was never acknowledged")

    def _send_once(self, session_id: str, event: JSONObject) -> str | None:
        saved, self.patience = self.patience, 20.0  # then look again: the last attempt may have been stored
        try:
            response = self.call("POST", f"/v1/sessions/{session_id}/events", {"events": [event]})
        finally:
            self.patience = saved
        if response.status_code == 409:  # still busy with a turn a crash interrupted: wait for it
            _pause(5)
            return None
        if response.status_code >= 300:
            raise AssertionError(f"send to {session_id}: {response.status_code} {response.text[:300]}")
        data = json_list(json_object(response.json()) and cast(JSONObject, response.json()).get("data")) or []
        first = json_object(data[0]) if data else None
        assert first is not None, f"send to {session_id}: no event in the answer"
        return str(first["id"])

    def find_message(self, session_id: str, prompt: str) -> str | None:
        for event in self.events(session_id):
            if event.get("type") == "user.message" and prompt in str(event.get("content")):
                return str(event["id"])
        return None

    def events(self, session_id: str) -> list[JSONObject]:
        """Every stored event of the session, in order."""
        found: list[JSONObject] = []
        page: str | None = None
        while True:
            query = f"?limit=1000&page={page}" if page else "?limit=1000"
            body = self.ok("GET", f"/v1/sessions/{session_id}/events{query}")
            found += [e for e in (json_object(item) for item in json_list(body.get("data")) or []) if e is not None]
            next_page = body.get("next_page")
            if not isinstance(next_page, str):
                return found
            page = next_page

    def status(self, session_id: str) -> str:
        return str(self.ok("GET", f"/v1/sessions/{session_id}").get("status"))


def _pause(attempt: int) -> None:
    """Between retries: a server being restarted needs a moment, and the retries must not flood it."""
    time.sleep(min(0.05 * attempt, 1.0))  # noqa: TID251 - a synchronous client retrying other processes
