"""Length-prefixed JSON frames over a socket: the only language spoken across the sandbox wall.

Both sides use it; the grader side treats every frame as untrusted (size cap,
JSON only) because student code shares the process that writes them.
"""

from __future__ import annotations

import json
import socket
import struct
import time

MAX_FRAME = 32 * 1024 * 1024  # bytes of one frame's JSON
# What a submission's outputs may take in the graded notebook, in bytes of their JSON (as they travel):
# the kernel keeps each cell's outputs under the first and all of them under the second, so that a
# cell's `done` frame always stays far below MAX_FRAME.
MAX_CELL_OUTPUT_BYTES = 2 * 1024 * 1024
MAX_NOTEBOOK_OUTPUT_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame."""


class FrameTooLarge(ProtocolError):
    """A frame over MAX_FRAME: refused before it is built or read."""

    def __init__(self, size: int) -> None:
        super().__init__(f"a message of {size / 2**20:.1f} MiB is over the {MAX_FRAME >> 20} MiB limit")
        self.size = size


class Closed(Exception):
    """The other side closed the connection."""


class Timeout(Exception):
    """No frame arrived before the deadline."""


def encode(message: dict) -> bytes:
    """One JSON frame, header included; FrameTooLarge if its JSON is over MAX_FRAME."""
    body = json.dumps(message, allow_nan=False).encode()
    if len(body) > MAX_FRAME:
        raise FrameTooLarge(len(body))
    return _HEADER.pack(len(body)) + body


def send(sock: socket.socket, message: dict) -> None:
    """Send one JSON frame."""
    sock.sendall(encode(message))


def recv(sock: socket.socket, deadline: float | None = None) -> dict:
    """Receive one JSON frame; `deadline` is a time.monotonic() value (None waits forever)."""
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size, deadline))
    if size > MAX_FRAME:
        raise FrameTooLarge(size)
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

