"""File-server reports built from the model directly, in the words of the rubric tests: a connection is
a list of requests and replies with their times; frame numbers are made up but unique."""
from __future__ import annotations

from itertools import count
from typing import Any, Optional

from reporter.model import (
    CaptureInfo,
    Close,
    Connection,
    Endpoint,
    FileInfo,
    Handshake,
    Message,
    PerDirection,
    Report,
)

_frames = count(10)
SHA_A = "a" * 64
SHA_B = "b" * 64


def req(command: str, *args: str, t: float, file: Optional[FileInfo] = None, problems: tuple = ()) -> dict:
    return {"dir": "request", "command": command, "args": list(args), "t": t, "file": file,
            "problems": list(problems)}


def rep(status: Optional[str], t: float, data: Any = None, file: Optional[FileInfo] = None,
        announced: Optional[FileInfo] = None, problems: tuple = (), to: Optional[int] = None, text: str = "") -> dict:
    return {"dir": "response", "status": status, "t": t, "data": data, "file": file, "announced": announced,
            "problems": list(problems), "to": to, "text": text}


def conn(cid: int, *msgs: dict, client: str = "172.16.16.102", syn: Optional[float] = None,
         end: Optional[float] = None, reset: bool = False, port: int = 6666) -> Connection:
    """A file connection; a reply pairs with the latest request before it unless `to` says otherwise."""
    out: list[Message] = []
    last_req: Optional[Message] = None
    for i, m in enumerate(msgs):
        first = next(_frames)
        last = next(_frames)
        if m["dir"] == "request":
            msg = Message(i, "request", first, last, m["t"], 100, text=" ".join([m["command"], *m["args"]]),
                          command=m["command"], args=m["args"], file=m["file"], problems=m["problems"])
            last_req = msg
        else:
            to = m["to"] if m["to"] is not None else (last_req.index if last_req else None)
            lat = None if last_req is None else round((m["t"] - last_req.time_s) * 1000, 3)
            msg = Message(i, "response", first, last, m["t"], 60, text=m["text"] or f'{{"status": "{m["status"]}"}}',
                          status=m["status"], in_reply_to=to, latency_ms=lat, file=m["file"], problems=m["problems"],
                          data=m["data"], announced=m["announced"])
        out.append(msg)
    start = syn if syn is not None else (msgs[0]["t"] - 0.001 if msgs else 0.0)
    stop = end if end is not None else (max(m["t"] for m in msgs) + 0.001 if msgs else start)
    return Connection(cid, Endpoint(client, 40000 + cid), Endpoint("172.16.16.101", port), service="file",
                      handshake=Handshake(next(_frames), next(_frames), next(_frames), start, 0.1, True),
                      close=Close("client", reset, stop), state="SF", bytes=PerDirection(100, 100),
                      messages=out)


def report(*conns: Connection, duration: float = 100.0) -> Report:
    return Report(capture=CaptureInfo("x.pcap", "0" * 64, "pcap", [1], 1, 10_000, duration_s=duration),
                  connections=list(conns))


def f(name: Optional[str], n: int, sha: Optional[str] = SHA_A) -> FileInfo:
    return FileInfo(name, n, sha)
