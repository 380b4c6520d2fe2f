"""Frozen entry point of ``maskingnet`` (the command line: predict, eval, train)."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process runs its task, not the command
    from core.cli import main

    sys.exit(main())
