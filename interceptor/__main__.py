"""`python -m interceptor`: the proxy alone, what `offgate proxy` runs (interceptor/alone.py)."""

from interceptor.alone import main

raise SystemExit(main())
