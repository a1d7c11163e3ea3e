"""JupyterLab opens the course without asking about news: the course's settings overrides.

`make lab` copies jupyter/overrides.d/cookies-sessions-tokens.json to
.venv/share/jupyter/lab/settings/overrides.d/, a folder jupyterlab_server reads beside
overrides.json (``settings_utils._get_overrides``). The overrides become the schema defaults
the settings API serves, so the news prompt (fetchNews "none" = ask) never appears.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
OVERRIDES = ROOT / "jupyter" / "overrides.d" / "cookies-sessions-tokens.json"
PLUGIN = "@jupyterlab/apputils-extension:notification"
SCHEMA = (Path(sys.prefix) / "share/jupyter/lab/schemas/@jupyterlab/apputils-extension"
          / "notification.json")


def test_overrides_are_valid_settings_of_the_installed_jupyterlab() -> None:
    overrides = json.loads(OVERRIDES.read_text(encoding="utf-8"))
    assert overrides[PLUGIN]["fetchNews"] == "false"   # "Never"; "none" is the prompt
    jsonschema.validate(overrides[PLUGIN], json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_makefile_installs_them_where_jupyterlab_reads_them() -> None:
    from jupyterlab.labapp import LabApp

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/" in makefile
    assert Path(LabApp().app_settings_dir) == Path(sys.prefix) / "share/jupyter/lab/settings"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.site
def test_a_running_jupyterlab_serves_fetch_news_never(tmp_path: Path) -> None:
    settings = tmp_path / "settings"
    (settings / "overrides.d").mkdir(parents=True)
    shutil.copy(OVERRIDES, settings / "overrides.d" / OVERRIDES.name)   # what `make lab` does
    port = free_port()
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
               "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=course",
               f"--ServerApp.root_dir={tmp_path}",
               f"--LabApp.app_settings_dir={settings}",
               f"--LabApp.user_settings_dir={tmp_path / 'user'}",
               f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = tmp_path / "lab.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink, env=env)
    url = f"http://127.0.0.1:{port}/lab/api/settings/{PLUGIN}?token=course"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    answer = json.load(response)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    answer = log.read_text()[-2000:]
                    raise AssertionError(f"JupyterLab did not answer: {answer}") from None
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(15)
    assert answer["schema"]["properties"]["fetchNews"]["default"] == "false"
    assert answer["schema"]["properties"]["checkForUpdates"]["default"] is False
