"""``corral.logs``: the format of a line, the ids it carries, and the secrets it never shows."""

from __future__ import annotations

import io
import json
import logging

from corral import logs
from tests.observe.conftest import Lines

log = logging.getLogger("corral.test")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_are_json_off_a_terminal_and_readable_on_one(lines: Lines) -> None:
    log.warning("disk %s is full", "/dev/x")
    (line,) = lines.all()
    assert line["level"] == "warning" and line["logger"] == "corral.test" and line["message"] == "disk /dev/x is full"
    assert line["time"].endswith("+00:00")
    terminal = Terminal()
    logs.configure("auto", "INFO", stream=terminal)
    log.warning("disk %s is full", "/dev/x")
    assert terminal.getvalue().rstrip().endswith("warning corral.test: disk /dev/x is full")
    assert not terminal.getvalue().startswith("{")


def test_each_line_names_the_ids_bound_around_it(lines: Lines) -> None:
    state: dict[str, str] = {}
    with logs.bind_request(state), logs.bind(session_id="sesn_1"):
        state["request_id"] = "req_1"  # as the gate writes it, after the outer middleware bound the mapping
        log.info("outer")
        with logs.bind(turn_id="turn_1"), logs.bind(tool_call_id="sevt_1"):
            log.info("inner")
    log.info("after")
    outer, inner, after = lines.all()
    assert {k: outer.get(k) for k in logs.IDS} == {
        "request_id": "req_1",
        "session_id": "sesn_1",
        "turn_id": None,
        "tool_call_id": None,
    }
    assert [inner[k] for k in logs.IDS] == ["req_1", "sesn_1", "turn_1", "sevt_1"]
    assert not set(logs.IDS) & set(after)


def test_registered_secrets_and_credential_shapes_are_masked(lines: Lines) -> None:
    logs.redact("vault-credential-value-1234")
    log.warning("upstream said: bad key %s", "vault-credential-value-1234")
    log.warning("headers: Authorization: Bearer abc.def-ghi x-api-key: sk-ant-api03-abcdefghijk")
    try:
        raise RuntimeError("token sk-corral-test-secretsecret leaked into an exception")
    except RuntimeError:
        log.exception("failed")
    text = lines.text
    for secret in ("vault-credential-value-1234", "abc.def-ghi", "sk-ant-api03-abcdefghijk", "secretsecret"):
        assert secret not in text
    assert all(json.loads(line) for line in text.splitlines())  # masking keeps each line valid JSON
    assert text.count(logs.MASK) >= 4
