"""``python -m ember``: the ``ember`` program."""
from .cli import main

raise SystemExit(main())
