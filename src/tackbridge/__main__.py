"""``python -m tackbridge`` is the ``tackbridge`` command."""

from tackbridge.cli import main

main()
