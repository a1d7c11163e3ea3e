"""The re-run test doubles the notebook time, so `make test` leaves it out: `make rerun` runs it.

It is collected only when COURSE_RERUN=1 (the `rerun` target sets it), so a plain
`pytest tests` does not pick it up by accident.
"""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("COURSE_RERUN") == "1" else ["test_*.py"]
