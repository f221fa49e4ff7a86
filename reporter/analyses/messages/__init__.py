"""The message layer: per connection of a message service, messages framed from the reassembled
streams, parsed, and responses paired with requests (the report's connections[].messages).

Extension points (Zeek's split of framing from parsing, STYLE.md) — a new protocol is a framer
(if its framing kind is new) plus a parser:

- FRAMERS: framing kind (the catalogue's Service.framing) -> Framer class (framing.py). "line"
  (CRLF lines, time server) and "json" (CRLF CRLF replies, file server) exist.
- PARSERS: service name -> Parser class (core.Parser). A service without one gets core.Parser's
  defaults (first word = command). The file server's parser plugs in here:
  ``PARSERS["file"] = FileParser`` with FileParser(core.Parser) overriding request/response
  (JSON status, data_namafile), chunk (base64 decoded while streaming into Draft.file) and pair
  (several replies to one request), with no change to framing, TCP or the pipeline.
- RECOGNISED (recognise.py): content signatures for connections on ports no service claims.
- DEFAULT_FRAMING: the framing of the services this layer knows, for callers that construct
  TcpAnalysis without the catalogue (tests); the pipeline passes the catalogue's.

The TCP analysis opens a stream (open_stream) for every connection of a message service and
hands its two Half.sink callbacks the delivered bytes; nothing here sees packets otherwise.
"""
from __future__ import annotations

from reporter.analyses.messages.core import Draft, MessageStream, Parser
from reporter.analyses.messages.fileserver import FileParser
from reporter.analyses.messages.framing import Framer, JsonFramer, LineFramer
from reporter.analyses.messages.timeserver import TimeParser

FRAMERS: dict[str, type[Framer]] = {"line": LineFramer, "json": JsonFramer}
PARSERS: dict[str, type[Parser]] = {"time": TimeParser, "file": FileParser}
DEFAULT_FRAMING: dict[str, str] = {"echo": "echo", "file-echo": "echo", "time": "line", "file": "json"}


def is_message_framing(framing: str | None) -> bool:
    return framing in FRAMERS


def open_stream(service: str, framing: str, echo: object) -> MessageStream:
    """A MessageStream for one connection of `service` framed as `framing` (a FRAMERS key).
    `echo` is the connection's EchoCheck, whose first request/reply times the stream keeps."""
    parser = PARSERS.get(service, Parser)()
    return MessageStream(service, FRAMERS[framing], parser, echo)


__all__ = ["DEFAULT_FRAMING", "FRAMERS", "PARSERS", "Draft", "Framer", "MessageStream", "Parser",
           "is_message_framing", "open_stream"]
