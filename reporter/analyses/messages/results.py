"""The message layer at the end of the capture: what TcpAnalysis.finish adds for message services
and recognised connections (kept here so tcp.py stays the per-packet path).
"""
from __future__ import annotations

from reporter.analyses.conn import Conn
from reporter.model import Connection, FrameNote, MessageFrameNote, Warning


def finish_messages(conn: Conn, notes: dict[str, FrameNote] | None) -> bool:
    """End of capture for the message layer: an undecided unclaimed connection is decided on
    what it sent, a message stream ends what is in progress, its messages label their frames.

    A message can be completed by a frame without payload: the receiver's ACK past a hole the
    capture missed lets the queued bytes after it through. That frame gets a note of its own with
    no role, offset or length (as the plugin labels it: only its progjar.msg.* fields). Returns
    True when such a note was added (the frame notes are then no longer in frame order)."""
    added = False
    if conn.sniffer is not None:
        conn.sniffer.finish()
        e = conn.echo
        if conn.by == "content" and conn.msgs is None and (e.mismatch is not None or e.echoed == 0):
            conn.service = conn.by = None  # looked like echo at first, was not: not recognised
    msgs = conn.msgs
    if msgs is None:
        return False
    msgs.finish()
    if conn.noted and notes is not None:
        for d in msgs.done:
            if d.done_frame is None:  # ended by the end of the capture: no frame completed it
                continue
            note = notes.get(str(d.done_frame))
            if note is None:
                note = notes[str(d.done_frame)] = MessageFrameNote(conn.id, None, None, None,  # type: ignore[arg-type]
                                                                   conn.client_no)
                added = True
            if not isinstance(note, MessageFrameNote):
                continue
            note.msg = (note.msg or []) + [d.index]
            if d.side == 0 and d.command is not None:
                note.command = (note.command or []) + [d.command]
            elif d.side == 1 and d.status is not None:
                note.status = (note.status or []) + [d.status]
    return added


def messages_warnings(conns: list[Conn], out: list[Connection]) -> list[Warning]:
    """One warning per service and server port recognised by content, and one per connection
    whose messages were too many to list."""
    found: dict[tuple[str, int], list[int]] = {}
    warns = []
    for conn in conns:
        if conn.by == "content":
            found.setdefault((conn.service, conn.server[1]), []).append(conn.id)  # type: ignore[arg-type]
        if conn.msgs is not None and conn.msgs.truncated:
            warns.append(Warning("messages-truncated", f"connection {conn.id}: only the first messages are listed",
                                 conn.syn_frame))
    for (service, port), ids in found.items():
        first = out[ids[0]]
        shown = ", ".join(str(i) for i in ids[:10]) + (", ..." if len(ids) > 10 else "")
        warns.append(Warning("service-recognised", f"{len(ids)} connection(s) to port {port} ({shown}) carry "
                             f"{service} traffic although no service is on that port: analysed as {service} "
                             f"(--port {service}={port} makes it explicit)", first.handshake.syn_frame, "info"))
    return warns


def timezone_hint(out: list[Connection]) -> str | None:
    """The UTC offset in which every time reply with a right clock is right, when they agree."""
    offsets = {m.utc_offset for c in out for m in c.messages if m.utc_offset is not None}
    return offsets.pop() if len(offsets) == 1 else None
