"""``python -m gossip.tools.compare FILE ...`` (the same as ``gossip compare FILE ...``)."""

from .command import main

raise SystemExit(main())
