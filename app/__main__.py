"""`python -m app` is the `edgewatch` command."""

import sys

from app.cli import main

sys.exit(main())
