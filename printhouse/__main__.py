"""``python -m printhouse``: the print house tool."""

from printhouse.cli import main

main()
