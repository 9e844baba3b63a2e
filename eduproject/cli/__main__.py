"""``python -m eduproject.cli``: the same as the ``eduproject`` command."""

from eduproject.cli import main

main()
