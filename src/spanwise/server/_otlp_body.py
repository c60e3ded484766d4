"""Reading an OTLP/HTTP request body safely: content types, a size cap that holds after
decompression (gzip bombs included), and error replies in the request's content type."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
_CHUNK = 256 * 1024

# google.rpc.Code values used in error replies.
RPC_INVALID_ARGUMENT = 3
RPC_RESOURCE_EXHAUSTED = 8
RPC_UNAUTHENTICATED = 16
RPC_UNAVAILABLE = 14
RPC_INTERNAL = 13


class BodyError(Exception):
    """The request cannot be taken: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def reply_type(content_type: str | None) -> str:
    """The content type of the reply: the request's, or JSON when it was neither."""
    return PROTOBUF if media_type(content_type) == PROTOBUF else JSON


def _decompressor(encoding: str) -> Any:
    if encoding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        # The zlib format, which is what HTTP calls "deflate".
        return zlib.decompressobj(zlib.MAX_WBITS)
    raise BodyError(415, f"unsupported Content-Encoding {encoding!r} (use gzip, deflate or none)")


async def read_body(
    chunks: AsyncIterator[bytes], encoding: str | None, limit: int = DEFAULT_MAX_BODY_BYTES
) -> bytes:
    """The request body, decompressed. Raises BodyError(413) as soon as more than
    ``limit`` bytes arrive or would come out of decompression, and BodyError(400) for a
    corrupt compressed stream. Memory stays within ``limit`` plus one chunk."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("identity", ""):
        return await _read_plain(chunks, limit)
    decomp = _decompressor(enc)
    out = bytearray()
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > limit:
                raise BodyError(413, f"request body over {limit} bytes")
            data = chunk
            while data:
                piece = decomp.decompress(data, limit + 1 - len(out))
                out += piece
                if len(out) > limit:
                    raise BodyError(413, f"request body over {limit} bytes after decompression")
                if decomp.unconsumed_tail:
                    data = decomp.unconsumed_tail
                elif decomp.eof and decomp.unused_data:
                    # Another gzip member follows (concatenated streams are valid gzip).
                    data = decomp.unused_data
                    decomp = _decompressor(enc)
                else:
                    data = b""
        out += decomp.flush()
    except zlib.error as exc:
        raise BodyError(400, f"cannot decompress the {enc} body: {exc}") from None
    if len(out) > limit:
        raise BodyError(413, f"request body over {limit} bytes after decompression")
    if received and not decomp.eof:
        raise BodyError(400, f"the {enc} body is truncated")
    return bytes(out)


async def _read_plain(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    out = bytearray()
    async for chunk in chunks:
        out += chunk
        if len(out) > limit:
            raise BodyError(413, f"request body over {limit} bytes")
    return bytes(out)


def status_response(
    http_status: int, message: str, content_type: str | None, headers: dict[str, str] | None = None
) -> Response:
    """An OTLP error reply: a ``google.rpc.Status`` in the request's content type."""
    code = {
        400: RPC_INVALID_ARGUMENT,
        401: RPC_UNAUTHENTICATED,
        413: RPC_RESOURCE_EXHAUSTED,
        415: RPC_INVALID_ARGUMENT,
        503: RPC_UNAVAILABLE,
    }.get(http_status, RPC_INTERNAL)
    kind = reply_type(content_type)
    if kind == PROTOBUF:
        body = _status_protobuf(code, message)
    else:
        body = json.dumps({"code": code, "message": message}).encode()
    return Response(body, status_code=http_status, media_type=kind, headers=headers)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _status_protobuf(code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (field 1: code, field 2: message) in wire format."""
    text = message.encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def success_response(content_type: str | None, rejected: int = 0, message: str = "") -> Response:
    """``ExportTraceServiceResponse``; ``partial_success`` when spans were rejected."""
    kind = reply_type(content_type)
    if kind == PROTOBUF:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        reply = trace_service_pb2.ExportTraceServiceResponse()
        if rejected:
            reply.partial_success.rejected_spans = rejected
            reply.partial_success.error_message = message
        return Response(reply.SerializeToString(), media_type=kind)
    data: dict[str, Any] = {}
    if rejected:
        data["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
    return Response(json.dumps(data).encode(), media_type=kind)
