"""``python -m evrevops.cli``: the console script."""

from evrevops.cli import main

main()
