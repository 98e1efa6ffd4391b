"""``python -m rnn`` (and the ``minigrad-rnn`` script): the command line of :mod:`rnn.cli`."""
import sys

from rnn.cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
