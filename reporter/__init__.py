"""progjar-lab reporter: captures of the socket-programming lab -> JSON, HTML and PDF reports."""

__version__ = "0.1.0"
