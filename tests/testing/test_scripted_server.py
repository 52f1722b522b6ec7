"""The scripted model servers we ship, driven by the official ``anthropic`` and ``openai`` SDKs over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anthropic
import httpx
import openai
import pytest
from anthropic.types import MessageParam, TextBlock, ThinkingBlock, ToolUseBlock
from openai.types.chat import ChatCompletionMessageFunctionToolCall, ChatCompletionMessageParam

from corral.testing import (
    Script,
    ScriptedModelProcess,
    ScriptedModelServer,
    ScriptJSON,
    reply,
    text,
    thinking,
    tool_use,
)
from corral.testing.script import Seen

pytestmark = pytest.mark.anyio

SCRIPT: ScriptJSON = {
    "replies": [
        reply(thinking("Think first.", signature="sig-1"), text("Hello there!"), tool_use("lookup", {"q": "llamas"})),
        reply(text("Second answer."), usage={"input_tokens": 11, "output_tokens": 7}),
    ],
    "rules": [{"system_contains": "SPECIAL", "reply": reply(text("By rule."), stop_reason="max_tokens")}],
}
USER: list[MessageParam] = [{"role": "user", "content": "hi"}]
GPT_USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
HISTORY: list[MessageParam] = [*USER, {"role": "assistant", "content": "x"}, {"role": "user", "content": "more"}]


@asynccontextmanager
async def clients(url: str) -> AsyncGenerator[tuple[anthropic.AsyncAnthropic, openai.AsyncOpenAI]]:
    async with (
        anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0) as claude,
        openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as gpt,
    ):
        yield claude, gpt


def first_text(message: anthropic.types.Message) -> str:
    block = message.content[0]
    assert isinstance(block, TextBlock), block
    return block.text


async def test_anthropic_streaming() -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        async with clients(server.url) as (claude, _):
            async with claude.messages.stream(model="claude-m", max_tokens=100, messages=USER) as stream:
                final = await stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "text", "tool_use"]
    thought, said, call = final.content
    assert isinstance(thought, ThinkingBlock) and isinstance(said, TextBlock) and isinstance(call, ToolUseBlock)
    assert thought.thinking == "Think first." and thought.signature == "sig-1"
    assert said.text == "Hello there!"
    assert call.name == "lookup" and call.input == {"q": "llamas"}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


async def test_anthropic_without_streaming_and_by_position() -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        async with clients(server.url) as (claude, _):
            message = await claude.messages.create(model="claude-m", max_tokens=100, messages=HISTORY)
            by_rule = await claude.messages.create(
                model="claude-m", max_tokens=9, system="a SPECIAL case", messages=USER
            )
    assert [b.type for b in message.content] == ["text"] and first_text(message) == "Second answer."
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 7)
    assert first_text(by_rule) == "By rule." and by_rule.stop_reason == "max_tokens"
    assert [r.position for r in server.requests] == [1, -1]


async def test_openai_streaming_and_not() -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        async with clients(server.url) as (_, gpt):
            stream = await gpt.chat.completions.create(
                model="claude-m",
                messages=GPT_USER,
                stream=True,
                stream_options={"include_usage": True},
            )
            content, reasoning, arguments, finish, usage = "", "", "", None, None
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    delta = choice.delta
                    content += delta.content or ""
                    reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
                    for call in delta.tool_calls or []:
                        arguments += call.function.arguments or "" if call.function else ""
                    finish = choice.finish_reason or finish
            whole = await gpt.chat.completions.create(model="claude-m", messages=GPT_USER)
    assert (content, reasoning, json.loads(arguments), finish) == (
        "Hello there!",
        "Think first.",
        {"q": "llamas"},
        "tool_calls",
    )
    assert usage is not None and usage.completion_tokens > 0
    message = whole.choices[0].message
    assert message.content == "Hello there!" and whole.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall) and call.function.name == "lookup"


async def test_replies_are_chosen_from_the_request_alone() -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        async with clients(server.url) as (claude, _):
            first = await claude.messages.create(model="claude-m", max_tokens=100, messages=USER)
            again = await claude.messages.create(model="claude-m", max_tokens=100, messages=USER)
    assert first.model_dump(exclude={"usage"}) == again.model_dump(exclude={"usage"})


@pytest.mark.parametrize(
    ("kind", "anthropic_error", "openai_error"),
    [
        ("rate_limit", anthropic.RateLimitError, openai.RateLimitError),
        ("server_error", anthropic.InternalServerError, openai.InternalServerError),
        ("overloaded", anthropic.APIStatusError, openai.InternalServerError),
    ],
)
async def test_status_faults(
    kind: str, anthropic_error: type[anthropic.APIStatusError], openai_error: type[openai.APIStatusError]
) -> None:
    script: ScriptJSON = {**SCRIPT, "faults": [{"kind": kind, "times": 2, "retry_after": 0.25}]}
    async with ScriptedModelServer(script) as server:
        async with clients(server.url) as (claude, gpt):
            with pytest.raises(anthropic_error) as claude_failure:
                await claude.messages.create(model="claude-m", max_tokens=10, messages=USER)
            with pytest.raises(openai_error) as gpt_failure:
                await gpt.chat.completions.create(model="claude-m", messages=GPT_USER)
            recovered = await claude.messages.create(model="claude-m", max_tokens=10, messages=USER)
    assert claude_failure.value.response.headers["retry-after"] == "0.25"
    assert {529: "overloaded"}.get(claude_failure.value.status_code, kind) == kind
    assert gpt_failure.value.response.headers["retry-after"] == "0.25"
    assert recovered.content[0].type == "thinking"
    assert [r.fault for r in server.requests] == [kind, kind, None]


async def anthropic_stream(url: str) -> None:
    async with clients(url) as (claude, _):
        stream = await claude.messages.create(model="claude-m", max_tokens=10, messages=USER, stream=True)
        async for _ in stream:
            pass


async def openai_stream(url: str) -> None:
    async with clients(url) as (_, gpt):
        stream = await gpt.chat.completions.create(model="claude-m", messages=GPT_USER, stream=True)
        async for _ in stream:
            pass


@pytest.mark.parametrize(
    ("kind", "anthropic_error", "openai_error"),
    [
        ("stream_error", anthropic.APIStatusError, openai.APIError),
        ("malformed", ValueError, ValueError),
        ("reset", anthropic.APIConnectionError, openai.APIConnectionError),  # SDK 2.17 wraps a mid-stream reset
    ],
)
async def test_mid_stream_faults(kind: str, anthropic_error: type[Exception], openai_error: type[Exception]) -> None:
    script: ScriptJSON = {**SCRIPT, "faults": [{"kind": kind, "times": 2, "after_tokens": 2}]}
    async with ScriptedModelServer(script) as server:
        with pytest.raises(anthropic_error):
            await anthropic_stream(server.url)
        with pytest.raises(openai_error):
            await openai_stream(server.url)
        await anthropic_stream(server.url)  # the faults are used up


async def test_invalid_tool_json() -> None:
    script: ScriptJSON = {**SCRIPT, "faults": [{"kind": "invalid_tool_json", "times": 1}]}
    async with ScriptedModelServer(script) as server:
        async with clients(server.url) as (claude, _):
            stream = await claude.messages.create(model="claude-m", max_tokens=10, messages=USER, stream=True)
            partial = "".join(
                [
                    e.delta.partial_json
                    async for e in stream
                    if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
                ]
            )
    with pytest.raises(json.JSONDecodeError):
        json.loads(partial)


async def test_latency_model() -> None:
    script: ScriptJSON = {
        "replies": [reply(text(" ".join(["tok"] * 10)))],
        "latency": {"ttft": {"dist": "fixed", "seconds": 0.3}, "tokens_per_second": 20},
    }
    async with ScriptedModelServer(script) as server:
        async with clients(server.url) as (claude, _):
            started = time.monotonic()
            stream = await claude.messages.create(model="claude-m", max_tokens=10, messages=USER, stream=True)
            first: float | None = None
            async for event in stream:
                if event.type == "content_block_delta" and first is None:
                    first = time.monotonic() - started
            total = time.monotonic() - started
    assert first is not None and first >= 0.28
    assert total >= 0.3 + 9 / 20 - 0.05


def test_seeded_latency_is_the_same_for_the_same_turn() -> None:
    script = Script.from_json(
        {
            "replies": [reply(text("x"))],
            "latency": {"ttft": {"dist": "lognormal", "median": 0.7, "sigma": 0.5}, "seed": 7},
        }
    )
    seen = Seen("anthropic", 0, "", "{}", "the same first message", "m", True)
    other = Seen("openai", 0, "", "{...}", "another first message", "m", True)
    draws = [script.latency.first_token_delay(script.rng(seen, 0)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2] > 0
    assert script.latency.first_token_delay(script.rng(other, 0)) != draws[0]
    assert script.latency.first_token_delay(script.rng(seen, 1)) != draws[0]


async def test_requests_are_recorded_and_the_script_can_be_replaced() -> None:
    async with ScriptedModelServer(SCRIPT) as server:
        async with clients(server.url) as (claude, _):
            await claude.messages.create(model="claude-m", max_tokens=10, messages=USER)
            async with httpx.AsyncClient(base_url=server.url) as http:
                recorded = (await http.get("/_scripted/requests")).json()
                replaced = await http.put("/_scripted/script", json={"replies": [reply(text("New script."))]})
            again = await claude.messages.create(model="claude-m", max_tokens=10, messages=USER)
    assert recorded[0]["protocol"] == "anthropic" and recorded[0]["body"]["messages"] == USER
    assert replaced.status_code == 200
    assert first_text(again) == "New script."


def test_as_a_subprocess() -> None:
    with ScriptedModelProcess(SCRIPT) as server:
        with anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0) as claude:
            message = claude.messages.create(model="claude-m", max_tokens=10, messages=USER)
        recorded = server.requests()
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert len(recorded) == 1 and recorded[0]["path"] == "/v1/messages"


async def test_a_script_without_an_answer() -> None:
    async with ScriptedModelServer({"replies": [reply(text("only one"))], "repeat_last": False}) as server:
        async with clients(server.url) as (claude, _):
            with pytest.raises(anthropic.InternalServerError):
                await claude.messages.create(model="claude-m", max_tokens=10, messages=HISTORY)
    assert server.requests[0].position == 1
