"""``python -m runbook_lib.app.cli``: the same as the ``runbook`` command."""

import sys

from runbook_lib.app.cli import main

sys.exit(main())
