"""``python -m gitml``."""

from gitml.cli.main import main

main()
