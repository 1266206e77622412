"""`python -m tinymem ...` runs the command line."""

from .cli import main

main()
