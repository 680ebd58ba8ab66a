"""``python -m phoneagent`` runs the command line."""

import sys

from phoneagent.cli import main

sys.exit(main())
