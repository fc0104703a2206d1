"""`python -m graders` is the `graders` command."""

from graders.cli import main

main()
