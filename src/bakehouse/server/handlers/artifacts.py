"""The artifact proxy: bytes between clients and ``--artifacts-destination`` (local disk or S3).

Both directions stream: an upload is handed to the repository's ``write_stream`` in ~1 MiB blocks, read
ahead by the event loop while a worker thread writes (a large one to a local destination is read straight
from the socket instead, see :mod:`bakehouse.server.body_pump`); a download is the repository's
``ChunkStream``, read ahead by a thread while the event loop sends. Neither holds a whole file in memory.
Every path goes through :func:`bakehouse.store.artifacts.paths.safe_relative_path` (inside the repository
primitives as well), so no spelling of a path reaches outside the destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import posixpath
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bakehouse.errors import InvalidParameterError, NotImplementedFeatureError
from bakehouse.server.body_pump import BODY_PUMP
from bakehouse.server.context import RequestContext
from bakehouse.store.artifacts.paths import safe_relative_path
from bakehouse.wire import artifacts as wa
from bakehouse.wire import json as wj

UPLOAD_BLOCK = 1024 * 1024
#: blocks received ahead of the writer (bounds an upload's memory to a few MiB)
UPLOAD_QUEUE_BLOCKS = 4

#: blocks read ahead of the socket on a download (bounds a download's memory to a few MiB)
DOWNLOAD_QUEUE_BLOCKS = 4
#: uploads written at once; more wait for a turn (their senders are held back by TCP meanwhile)
UPLOAD_WRITERS = 16

#: content types a browser may render inline from /get-artifact; everything else is text/plain or a download
_INLINE_SAFE = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf"}


def _access(ctx: RequestContext) -> Any:
    return ctx.request.app.state.artifact_access


def _path_param(request: Request) -> str:
    rel = safe_relative_path(request.path_params.get("artifact_path", ""))
    if not rel:
        raise InvalidParameterError("An artifact path is required")
    return rel


def _upload_slots(request: Request) -> anyio.CapacityLimiter:
    """Uploads get worker threads of their own. A thread stays busy for as long as its client takes to send,
    and slow or stalled senders must never take the threads every JSON request runs on: with 45 stalled
    uploads sharing them, every API call hung."""
    state = request.app.state
    slots = getattr(state, "upload_slots", None)
    if slots is None:
        slots = state.upload_slots = anyio.CapacityLimiter(UPLOAD_WRITERS)
    return slots


def stream_response(stream: Any, name: str, inline: bool = False) -> Response:
    """Send a ChunkStream; ``inline`` picks a browser-safe content type (UI), else octet-stream."""
    headers = {}
    if stream.size is not None:
        headers["Content-Length"] = str(stream.size)
    media_type = "application/octet-stream"
    if inline:
        guessed, _ = mimetypes.guess_type(name)
        if guessed in _INLINE_SAFE:
            media_type = guessed
        elif (
            guessed is None or guessed.startswith("text/") or guessed in ("application/json", "image/svg+xml")
        ):
            media_type = "text/plain; charset=utf-8"
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return StreamingResponse(read_ahead(stream), media_type=media_type, headers=headers)


_END = object()


async def read_ahead(stream: Iterator[bytes], depth: int = DOWNLOAD_QUEUE_BLOCKS) -> AsyncIterator[bytes]:
    """The chunks of ``stream`` with up to ``depth`` of them read by a thread while the event loop sends.

    Reading a block (disk or S3) and sending one then overlap; iterated the plain way, each block was read
    only after the previous one had been sent. A client that goes away stops the reader (within
    0.2 s) and the stream is closed either way.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    slots = threading.Semaphore(depth)
    stop = threading.Event()

    def hand_over(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone (server shutting down): nobody is waiting
            stop.set()

    def produce() -> None:
        try:
            for chunk in stream:
                while not slots.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                hand_over(chunk)
            hand_over(_END)
        except BaseException as exc:  # noqa: BLE001 - raised again on the event loop, in the response
            hand_over(exc)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    threading.Thread(target=produce, name="artifact-read-ahead", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            slots.release()
            yield item
    finally:
        stop.set()


# ---------------------------------------------------------------------------------------------- routes
def list_artifacts(ctx: RequestContext, req: wa.ListArtifactsProxy) -> dict[str, Any]:
    """Children of ``path`` with paths relative to it; a file or missing path lists as ``{}``."""
    rel = safe_relative_path(req.path)
    repo = _access(ctx).destination_repo()
    infos = repo.list_dir(rel or None)
    files = []
    for info in infos:
        name = posixpath.relpath(info.path, rel) if rel else info.path
        info.path = name
        files.append(wj.file_info_to_json(info))
    return {"files": files} if files else {}


async def download_artifact(ctx: RequestContext, request: Request) -> Response:
    rel = _path_param(request)
    repo = _access(ctx).destination_repo()
    stream = await anyio.to_thread.run_sync(repo.open_read, rel)
    return stream_response(stream, rel)


async def upload_artifact(ctx: RequestContext, request: Request) -> Response:
    """Receive and store at the same time: the event loop reads the body into a small queue of ~1 MiB
    blocks while a worker thread writes the previous ones (strictly alternating, each side waited for the
    other and an upload ran at half speed). A body that ends early is an error, never a shorter file."""
    rel = _path_param(request)
    repo = _access(ctx).destination_repo()
    if await _pump_to_local_file(request, repo, rel):
        return Response(b"{}", media_type="application/json")
    send, receive = anyio.create_memory_object_stream[list[bytes] | BaseException](
        max_buffer_size=UPLOAD_QUEUE_BLOCKS
    )

    async def read_body() -> None:
        async with send:
            try:
                chunks: list[bytes] = []
                size = 0
                async for chunk in request.stream():
                    if chunk:  # the chunks as they arrived: joining them would copy every byte
                        chunks.append(chunk)
                        size += len(chunk)
                    if size >= UPLOAD_BLOCK:
                        await send.send(chunks)
                        chunks, size = [], 0
                if chunks:
                    await send.send(chunks)
            except Exception as exc:  # noqa: BLE001 - handed to the writer, which discards the partial file
                await send.send(exc)

    def blocks() -> Iterator[bytes]:
        while True:
            try:
                item = anyio.from_thread.run(receive.receive)
            except anyio.EndOfStream:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item

    try:
        async with receive, anyio.create_task_group() as tasks:
            tasks.start_soon(read_body)
            await anyio.to_thread.run_sync(repo.write_stream, rel, blocks(), limiter=_upload_slots(request))
    except (
        BaseExceptionGroup
    ) as group:  # raise what went wrong (a refused path, a client gone), not the group
        raise _first_leaf(group) from None
    return Response(b"{}", media_type="application/json")


async def _pump_to_local_file(request: Request, repo: Any, rel: str) -> bool:
    """Store a large upload to a local destination straight from the socket (see
    :mod:`bakehouse.server.body_pump`): one worker thread reads and writes, nothing crosses the event loop.
    False when that is not on offer (small body, TLS, an S3 destination): the caller reads the body itself."""
    take_body = request.scope.get("extensions", {}).get(BODY_PUMP)
    open_atomic = getattr(repo, "open_atomic", None)
    if take_body is None or open_atomic is None:
        return False
    pump = take_body()
    if pump is None:
        return False

    def store() -> None:
        with contextlib.ExitStack() as stack:
            try:
                out = stack.enter_context(open_atomic(rel))
            except BaseException:
                pump.discard()  # let the client finish sending and read the error, rather than a reset
                raise
            pump.into(out.write)

    await anyio.to_thread.run_sync(store, limiter=_upload_slots(request))
    return True


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def delete_artifact(ctx: RequestContext, request: Request) -> Response:
    rel = _path_param(request)
    repo = _access(ctx).destination_repo()
    await anyio.to_thread.run_sync(repo.delete, rel)
    return Response(b"{}", media_type="application/json")


def _multipart_unsupported() -> NotImplementedFeatureError:
    return NotImplementedFeatureError(
        "Multipart uploads through presigned URLs are not offered by this server; the client falls back to a "
        "single streaming PUT, which the server streams to storage (multipart on S3) without buffering."
    )


def _refuse_multipart(req: Any) -> dict[str, Any]:
    safe_relative_path(req.artifact_path)  # a bad path is a 400 before anything else
    safe_relative_path(req.path)
    raise _multipart_unsupported()


def create_multipart_upload(ctx: RequestContext, req: wa.CreateMultipartUpload) -> dict[str, Any]:
    return _refuse_multipart(req)


def complete_multipart_upload(ctx: RequestContext, req: wa.CompleteMultipartUpload) -> dict[str, Any]:
    return _refuse_multipart(req)


def abort_multipart_upload(ctx: RequestContext, req: wa.AbortMultipartUpload) -> dict[str, Any]:
    return _refuse_multipart(req)
