"""Collection rules for `make test`: chapters whose real dependency is missing skip with a reason."""

from __future__ import annotations

import os
import shutil

import pytest

#: Set by .ci/run: there, a missing system program fails the run instead of skipping.
REQUIRE_SYSTEM_DEPS = os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1"

#: notebook file prefix -> (binary it starts, Debian package that brings it)
NEEDS_BINARY = {"09_": ("redis-server", "redis-server"), "11_": ("chromium", "chromium"),
                "13_": ("chromium", "chromium")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        name = item.path.name
        if item.path.suffix != ".ipynb":
            continue
        for prefix, (binary, package) in NEEDS_BINARY.items():
            if name.startswith(prefix) and shutil.which(binary) is None:
                reason = f"{name} needs a real {binary}: install the '{package}' package"
                if REQUIRE_SYSTEM_DEPS:
                    raise pytest.UsageError(reason)
                item.add_marker(pytest.mark.skip(reason=reason))
