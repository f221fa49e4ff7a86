"""`python -m reporter` is the same as the `progjar` command."""
import sys

from reporter.cli import main

sys.exit(main())
