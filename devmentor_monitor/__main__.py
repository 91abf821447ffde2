"""`python -m devmentor_monitor` is the same as the console script."""

from .cli import main

raise SystemExit(main())
