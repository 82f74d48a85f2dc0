"""`python -m offgate` runs the command line, like the `offgate` script."""

from offgate.cli import app

app(prog_name="offgate")
