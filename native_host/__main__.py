"""`python -m native_host`: what the launcher runs (the `offgate` CLI would import typer,
rich and the store before the first reply)."""

from native_host.main import main

raise SystemExit(main())
