"""``bh.openai.autolog()`` with the real OpenAI Python client against a local OpenAI-compatible server.

The server is a small Starlette app started by the test on 127.0.0.1 (chat completions, plain and
streamed as server-sent events, and embeddings): no network, no keys.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

import bakehouse as bh

CALLS: list[dict[str, Any]] = []


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    last = body["messages"][-1]["content"]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"echo: {last}"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }


async def chat(request: Request) -> Response:
    body = await request.json()
    CALLS.append(body)
    if not body.get("stream"):
        return JSONResponse(_completion(body))

    def events() -> Iterator[bytes]:
        for i, word in enumerate(["one ", "two ", "three"]):
            chunk = {
                "id": "chatcmpl-2",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": body["model"],
                "choices": [
                    {"index": 0, "delta": {"content": word}, "finish_reason": None if i < 2 else "stop"}
                ],
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        usage = {
            "id": "chatcmpl-2",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": body["model"],
            "choices": [],
            "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7},
        }
        yield f"data: {json.dumps(usage)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def embeddings(request: Request) -> Response:
    body = await request.json()
    CALLS.append(body)
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    return JSONResponse(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, float(i)]}
                for i in range(len(inputs))
            ],
            "model": body["model"],
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )


@pytest.fixture(scope="module")
def openai_base_url() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
        ]
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the local OpenAI-compatible server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def autologged(tmp_tracking_uri: str) -> Iterator[None]:
    bh.set_tracking_uri(tmp_tracking_uri)
    bh.set_experiment("openai")
    bh.openai.autolog()
    yield
    bh.openai.autolog(disable=True)
    bh.flush_trace_async_logging()


def test_chat_calls_inside_a_traced_function_become_child_spans(
    openai_base_url: str, autologged: None
) -> None:
    client = openai.OpenAI(base_url=openai_base_url, api_key="local-test-no-key")

    @bh.trace(name="answer")
    def answer(question: str) -> str:
        reply = client.chat.completions.create(
            model="tiny-model", messages=[{"role": "user", "content": question}], temperature=0
        )
        streamed = client.chat.completions.create(
            model="tiny-model",
            messages=[{"role": "user", "content": "count"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        return f"{reply.choices[0].message.content} | {text}"

    assert answer("hello") == "echo: hello | one two three"
    trace = bh.get_trace(bh.get_last_active_trace_id())
    root = next(s for s in trace.spans if s.parent_span_id is None)
    calls = [s for s in trace.spans if s.name == "Completions"]
    assert root.name == "answer" and len(calls) == 2
    assert all(s.parent_span_id == root.span_id and s.span_type == "CHAT_MODEL" for s in calls)
    plain, streamed = sorted(calls, key=lambda s: s.start_time_unix_nano)
    assert (
        plain.inputs["messages"] == [{"role": "user", "content": "hello"}]
        and plain.inputs["temperature"] == 0
    )
    assert plain.outputs["choices"][0]["message"]["content"] == "echo: hello"
    assert plain.attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": 7,
        "output_tokens": 3,
        "total_tokens": 10,
    }
    assert plain.attributes["mlflow.llm.model"] == "tiny-model"
    assert streamed.outputs == {"content": "one two three", "chunks": 4}
    assert streamed.attributes["mlflow.chat.tokenUsage"]["total_tokens"] == 7
    usage = json.loads(trace.info.trace_metadata["mlflow.trace.tokenUsage"])
    assert usage == {"input_tokens": 11, "output_tokens": 6, "total_tokens": 17}
    assert CALLS[-1]["stream"] is True


def test_async_and_embedding_calls_outside_a_span_are_their_own_traces(
    openai_base_url: str, autologged: None
) -> None:
    aclient = openai.AsyncOpenAI(base_url=openai_base_url, api_key="local-test-no-key")
    client = openai.OpenAI(base_url=openai_base_url, api_key="local-test-no-key")

    async def main() -> str:
        reply = await aclient.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "async"}]
        )
        return reply.choices[0].message.content or ""

    assert asyncio.run(main()) == "echo: async"
    async_trace = bh.get_trace(bh.get_last_active_trace_id())
    assert [s.name for s in async_trace.spans] == ["AsyncCompletions"]
    vectors = client.embeddings.create(model="embedder", input=["a", "b"])
    assert len(vectors.data) == 2
    trace = bh.get_trace(bh.get_last_active_trace_id())
    (span,) = trace.spans
    assert span.name == "Embeddings" and span.span_type == "EMBEDDING" and span.inputs["input"] == ["a", "b"]
    assert span.outputs["data"][1]["embedding"] == [0.1, 0.2, 1.0]
    assert len(bh.search_traces(filter_string="span.type = 'CHAT_MODEL'")) >= 1


def test_disable_restores_the_client(openai_base_url: str, tmp_tracking_uri: str) -> None:
    bh.set_tracking_uri(tmp_tracking_uri)
    bh.openai.autolog()
    bh.openai.autolog(disable=True)
    client = openai.OpenAI(base_url=openai_base_url, api_key="local-test-no-key")
    before = bh.get_last_active_trace_id()
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "plain"}])
    assert bh.get_last_active_trace_id() == before
