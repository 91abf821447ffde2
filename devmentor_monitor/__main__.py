"""`python -m devmentor_monitor` is the same as the console script."""

from devmentor_monitor.cli import main

raise SystemExit(main())
