"""`python -m reporter` is the same as the `progjar` command."""
from reporter.cli import entry

entry()
