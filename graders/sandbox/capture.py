"""One cell's outputs in notebook (nbformat) form, within the output limits of graders.sandbox.wire.

Runs inside the sandbox: the kernel makes a `CellCapture` the current cell's stdout,
stderr, display publisher and display hook. Every output is sized as the JSON it
travels as. What does not fit in the cell's room (wire.MAX_CELL_OUTPUT_BYTES, or what
is left of wire.MAX_NOTEBOOK_OUTPUT_BYTES) is left out, and one short note in the
cell's outputs, where the first one was left out, says what and why; grading goes on.
Display updates (`display_id`, `update_display`, `clear_output`) change outputs in
place, as nbclient does, so a display updated a million times costs one output.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

from graders.sandbox import wire

ERROR_CHARS, TRACEBACK_FRAMES, FRAME_CHARS = 2000, 20, 4000  # an error output's evalue and traceback
SHORT_ERROR_CHARS = 200  # a cell's first error, when it no longer fits, is kept this short
DISPLAY_ID_CHARS = 200  # a longer display id is treated as none
OVER_ROOM_BYTES = 16 << 10  # the most a cell keeps beyond its room: its first error (short) and the note


class NotebookOutputs:
    """What the cells of one submission have used so far (one per fork of the kernel)."""

    def __init__(self) -> None:
        self.left = wire.MAX_NOTEBOOK_OUTPUT_BYTES
        self.shown: set[str] = set()  # display ids shown by earlier cells


class CellCapture:
    """Collects one cell's outputs in notebook order, at most `room` bytes of JSON (see the module docstring).

    After `finish()`: `outputs` (nbformat outputs), `display_ids` (display id -> indices in
    `outputs`), `updates` (display id of an earlier cell -> its latest data and metadata),
    `capped()` (what was left out), `errored` (an error output was added).
    """

    def __init__(self, execution_count: int | None, notebook: NotebookOutputs) -> None:
        self.execution_count = execution_count
        self.notebook = notebook
        self.limit = "cell" if wire.MAX_CELL_OUTPUT_BYTES <= notebook.left else "notebook"
        self.room = min(wire.MAX_CELL_OUTPUT_BYTES, notebook.left)
        self.outputs: list[dict] = []
        self.display_ids: dict[str, list[int]] = {}
        self.updates: dict[str, dict] = {}
        self.errored = False
        self._sizes: list[int] = []  # bytes charged per output
        self._texts: dict[int, list[str]] = {}  # a stream output's text, in pieces until finish()
        self._update_sizes: dict[str, int] = {}
        self._used = 0
        self._note: int | None = None  # index of the note output, once something was left out
        self._left_out: Counter = Counter()  # "outputs", "updates", "text bytes"
        self._kinds: set[str] = set()  # mime types of the outputs left out
        self._clear_pending = False

    # --- what the cell's code produces ---------------------------------------------

    def add_stream(self, name: str, text: str) -> None:
        self._clear_if_pending()
        if self._used >= self.room:  # nothing more fits: only count, cheaply
            self._leave_out_text(len(text))
            return
        last = len(self.outputs) - 1
        merge = last >= 0 and last != self._note and self.outputs[last]["output_type"] == "stream" \
            and self.outputs[last]["name"] == name
        overhead = 0 if merge else json_size({"output_type": "stream", "name": name, "text": ""}) + 2
        size = json_size(text) - 2
        kept = text
        if self._used + overhead + size > self.room:
            kept = _prefix_within(text, self.room - self._used - overhead)
        kept_size = json_size(kept) - 2 if kept is not text else size
        if kept:
            self._used += overhead + kept_size
            if merge:
                self._texts[last].append(kept)
                self._sizes[last] += kept_size
            else:
                self._texts[len(self.outputs)] = [kept]
                self._append({"output_type": "stream", "name": name, "text": ""}, overhead + kept_size)
        if kept_size < size:
            self._leave_out_text(size - kept_size)

    def add_error(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        self._clear_if_pending()
        ename = getattr(etype, "__name__", str(etype))
        output = {"output_type": "error", "ename": ename, "evalue": str(evalue)[:ERROR_CHARS],
                  "traceback": [s[:FRAME_CHARS] for s in stb[-TRACEBACK_FRAMES:]]}
        size = json_size(output) + 2
        first, self.errored = not self.errored, True
        if self._used + size > self.room:
            if not first:
                self._leave_out("error")
                return
            # The first error says why the cell failed (the verdict quotes it): kept, short.
            output = {"output_type": "error", "ename": ename[:SHORT_ERROR_CHARS],
                      "evalue": output["evalue"][:SHORT_ERROR_CHARS], "traceback": []}
            size = json_size(output) + 2
        self._used += size
        self._append(output, size)

    def add_display(self, data: dict, metadata: dict, *, result: bool, display_id: Any = None,
                    update: bool = False) -> None:
        """A display_data (or, `result`, an execute_result); `update`: only change the outputs of `display_id`."""
        data = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, (str, dict, list))
                and json_size(v) is not None}
        metadata = metadata if json_size(metadata) is not None else {}
        display_id = display_id if isinstance(display_id, str) and len(display_id) <= DISPLAY_ID_CHARS else None
        if display_id is not None:
            self._update_display(display_id, data, metadata)
        if update or not data:
            return
        self._clear_if_pending()
        if result:
            output = {"output_type": "execute_result", "data": data, "metadata": metadata,
                      "execution_count": self.execution_count}
        else:
            output = {"output_type": "display_data", "data": data, "metadata": metadata}
        size = json_size(output) + 2 + (len(display_id) + 8 if display_id else 0)
        if self._used + size > self.room:
            self._leave_out("outputs", data)
            return
        self._used += size
        if display_id is not None:
            self.display_ids.setdefault(display_id, []).append(len(self.outputs))
        self._append(output, size)

    def clear_output(self, wait: bool = False) -> None:
        """IPython.display.clear_output: now, or (`wait`) just before the next output."""
        if wait:
            self._clear_pending = True
            return
        self._clear_pending = False
        self._used -= sum(self._sizes)
        self.outputs, self._sizes, self._texts, self.display_ids, self._note = [], [], {}, {}, None
        self._left_out.clear()
        self._kinds.clear()

    def finish(self) -> None:
        """The cell is over: join the streams, write the note, charge the notebook for what the cell kept."""
        for index, pieces in self._texts.items():
            self.outputs[index]["text"] = "".join(pieces)
        self._texts = {}
        if self._note is not None:
            self.outputs[self._note]["text"] = self._note_text()
        self.notebook.left = max(0, self.notebook.left - self._used)
        self.notebook.shown |= set(self.display_ids)

    def capped(self) -> dict | None:
        """What was left out and under which limit ("cell" or "notebook"), or None."""
        if not self._left_out:
            return None
        return {"limit": self.limit, "outputs": self._left_out["outputs"] + self._left_out["error"],
                "kinds": sorted(self._kinds)[:10], "updates": self._left_out["updates"],
                "text_bytes": self._left_out["text bytes"]}

    # --- how -------------------------------------------------------------------------

    def _append(self, output: dict, size: int) -> None:
        self.outputs.append(output)
        self._sizes.append(size)

    def _update_display(self, display_id: str, data: dict, metadata: dict) -> None:
        """New data for the outputs shown under `display_id`, here or in an earlier cell (nbclient's rule)."""
        for index in self.display_ids.get(display_id, []):
            output = dict(self.outputs[index], data=data, metadata=metadata)
            size = json_size(output) + 2 + len(display_id) + 8
            if self._used - self._sizes[index] + size > self.room:
                self._leave_out("updates")
                continue
            self._used += size - self._sizes[index]
            self.outputs[index], self._sizes[index] = output, size
        if display_id in self.notebook.shown:
            update = {"data": data, "metadata": metadata}
            size = json_size(update) + len(display_id) + 8
            before = self._update_sizes.get(display_id, 0)
            if self._used - before + size > self.room:
                self._leave_out("updates")
                return
            self._used += size - before
            self.updates[display_id], self._update_sizes[display_id] = update, size

    def _clear_if_pending(self) -> None:
        if self._clear_pending:
            self.clear_output()

    def _leave_out(self, what: str, data: dict | None = None) -> None:
        self._left_out[what] += 1
        self._kinds |= {kind for kind in (data or {}) if kind != "text/plain"} or set(data or {})
        self._place_note()

    def _leave_out_text(self, size: int) -> None:
        self._left_out["text bytes"] += size
        self._place_note()

    def _place_note(self) -> None:
        if self._note is None:
            self._note = len(self.outputs)
            self._append({"output_type": "stream", "name": "stderr", "text": ""}, 0)

    def _note_text(self) -> str:
        capped = self.capped()
        return f"\n[output limit: {left_out(capped)} left out here; a {capped['limit']} keeps at most " \
               f"{mib(limit_bytes(capped['limit']))} of output]\n"


def left_out(capped: dict) -> str:
    """What a `CellCapture.capped()` record says was left out, in words: '16 outputs (image/png) and 1 MiB of text'."""
    parts = []
    if capped["outputs"]:
        kinds = f" ({', '.join(capped['kinds'])})" if capped["kinds"] else ""
        parts.append(f"{capped['outputs']} output{'s' * (capped['outputs'] != 1)}{kinds}")
    if capped["text_bytes"]:
        parts.append(f"{mib(capped['text_bytes'])} of text")
    if capped["updates"]:
        parts.append(f"{capped['updates']} display update{'s' * (capped['updates'] != 1)}")
    return " and ".join(parts) or "nothing"


def limit_bytes(limit: str) -> int:
    """The output limit called `limit` ("cell" or "notebook"), in bytes."""
    return wire.MAX_CELL_OUTPUT_BYTES if limit == "cell" else wire.MAX_NOTEBOOK_OUTPUT_BYTES


# --- the objects the shell writes to ------------------------------------------------------


def stream(shell: Any, name: str) -> io.TextIOBase:
    """A text stream (sys.stdout, sys.stderr) that writes into the shell's current capture."""
    return _CapturedStream(shell, name)


def publisher(shell: Any) -> Any:
    """A display publisher (shell.display_pub) that writes into the shell's current capture."""
    from IPython.core.displaypub import DisplayPublisher

    class Publisher(DisplayPublisher):
        def publish(self, data: dict, metadata: dict | None = None, source: Any = None, *,
                    transient: dict | None = None, update: bool = False, **kw: Any) -> None:
            if shell.capture is not None:
                display_id = transient.get("display_id") if isinstance(transient, dict) else None
                shell.capture.add_display(dict(data), dict(metadata or {}), result=False,
                                          display_id=display_id, update=update)

        def clear_output(self, wait: bool = False) -> None:
            if shell.capture is not None:
                shell.capture.clear_output(wait)

    return Publisher(shell=shell)


def display_hook(shell: Any) -> Any:
    """A display hook (the value of a cell's last expression) that writes into the shell's current capture."""

    def hook(value: Any) -> None:
        if value is None or shell.capture is None:
            return
        shell.user_ns["_"] = value
        data, metadata = shell.display_formatter.format(value)
        shell.capture.add_display(data, metadata, result=True)

    return hook


class _CapturedStream(io.TextIOBase):
    def __init__(self, shell: Any, name: str) -> None:
        self._shell, self._name = shell, name

    def write(self, text: str) -> int:
        if self._shell.capture is not None:
            self._shell.capture.add_stream(self._name, str(text))
        return len(text)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False


def mib(size: int) -> str:
    """A size in bytes for people: '2 MiB', '0.3 MiB'."""
    return f"{size / 2**20:.1f}".removesuffix(".0") + " MiB"


def json_size(value: Any) -> int | None:
    """Bytes of `value` as JSON on the wire (graders.sandbox.wire), or None if it is not plain JSON data."""
    try:
        return len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        return None


def _prefix_within(text: str, size: int) -> str:
    """The longest start of `text` whose JSON string body fits in `size` bytes."""
    if size <= 0:
        return ""
    low, high = 0, min(len(text), size)
    while low < high:  # JSON escapes take 1 to 12 bytes a character
        middle = (low + high + 1) // 2
        if json_size(text[:middle]) - 2 <= size:
            low = middle
        else:
            high = middle - 1
    return text[:low]
