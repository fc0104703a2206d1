"""Length-prefixed JSON frames over a socket: the only language spoken across the sandbox wall.

Both sides use it; the grader side treats every frame as untrusted (size cap,
JSON only) because student code shares the process that writes them.
"""

from __future__ import annotations

import json
import socket
import struct
import time

MAX_FRAME = 32 * 1024 * 1024
_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame."""


class Closed(Exception):
    """The other side closed the connection."""


class Timeout(Exception):
    """No frame arrived before the deadline."""


def send(sock: socket.socket, message: dict) -> None:
    """Send one JSON frame."""
    body = json.dumps(message, allow_nan=False).encode()
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(body)} bytes is over the {MAX_FRAME} limit")
    sock.sendall(_HEADER.pack(len(body)) + body)


def recv(sock: socket.socket, deadline: float | None = None) -> dict:
    """Receive one JSON frame; `deadline` is a time.monotonic() value (None waits forever)."""
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes is over the {MAX_FRAME} limit")
    try:
        message = json.loads(_recv_exact(sock, size, deadline))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ProtocolError("frame has no op")
    return message


def _recv_exact(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            sock.settimeout(left)
        try:
            chunk = sock.recv(min(remaining, 1 << 20))
        except socket.timeout:
            raise Timeout() from None
        except ConnectionResetError:
            raise Closed() from None
        if not chunk:
            raise Closed()
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)

