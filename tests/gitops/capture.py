"""Picks the fixture of real statuses (statuses.yaml) out of an e2e run's status log.

    SPOFLESS_E2E_STATUS_LOG=/tmp/statuses.jsonl make test     # or any e2e run; the suite fills the log
    .venv/bin/python -m tests.gitops.capture /tmp/statuses.jsonl > tests/gitops/statuses.yaml

One site per distinct (phase, conditions, rollout phase, status current or not), as the suite saw it.
Each gets the health the documented table gives it (`expect`): review them before committing, since
the test holds the Lua to them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from .health import contract


def main(log: str) -> None:
    picked: list[dict[str, Any]] = []
    for line in Path(log).read_text().splitlines():
        record = json.loads(line)
        site = record["object"]
        picked.append(
            {
                "captured_in": record["test"].rsplit(" (", 1)[0],
                "expect": contract(site),
                "site": {
                    k: site[k] for k in ("apiVersion", "kind", "metadata", "status") if k in site
                },  # the check reads no spec
            }
        )
    picked.sort(key=lambda p: (p["expect"], (p["site"].get("status") or {}).get("phase", ""), p["captured_in"]))
    print("# Real ResilientSites as the e2e suite saw them; made by tests/gitops/capture.py (see there).")
    print(yaml.safe_dump(picked, sort_keys=False, width=120))


if __name__ == "__main__":
    main(sys.argv[1])
