"""`keyun sandbox-sms` as a real process for tests, and a small client of its JSON API."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .waiting import wait_until

START_TIMEOUT_S = 30
PREFIX = "sandbox-sms listening on 127.0.0.1:"


@dataclass
class SmsSandbox:
    process: subprocess.Popen
    directory: Path
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def listing(self) -> dict:
        with urllib.request.urlopen(self.base_url + "/messages.json", timeout=10) as response:
            return json.loads(response.read())

    def messages_to(self, phone: str) -> list[dict]:
        """Messages delivered to `phone`, newest first."""
        return [m for m in self.listing()["messages"] if m["to"] == phone]

    def failures_to(self, phone: str) -> list[dict]:
        return [f for f in self.listing()["failures"] if f["to"] == phone]

    def code_for(self, phone: str) -> str:
        """The code of the newest message to `phone`."""
        messages = wait_until(lambda: self.messages_to(phone), 10, f"a message to {phone}")
        found = re.search(r"验证码(\d{6})", messages[0]["text"])
        assert found, messages[0]["text"]
        return found.group(1)

    def control(self, path: str, document: dict) -> dict:
        request = urllib.request.Request(
            self.base_url + path, json.dumps(document).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def page(self) -> str:
        with urllib.request.urlopen(self.base_url + "/messages", timeout=10) as response:
            return response.read().decode()


def start_sms_sandbox(directory: Path, *extra: str) -> SmsSandbox:
    command = [
        sys.executable,
        "-m",
        "keyun.app.cli",
        "sandbox-sms",
        "--port",
        "0",
        "--dir",
        str(directory),
        "--state",
        str(directory / "state.json"),
        *extra,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()  # the process prints it once it listens, or exits
    if not line.startswith(PREFIX):
        process.kill()
        raise AssertionError(f"the SMS sandbox did not start: {line!r} {process.stderr.read()}")
    return SmsSandbox(process, directory, int(line.removeprefix(PREFIX)))


def stop_sms_sandbox(sandbox: SmsSandbox) -> int:
    sandbox.process.terminate()
    code = sandbox.process.wait(timeout=30)
    sandbox.process.stdout.close()
    sandbox.process.stderr.close()
    return code


@pytest.fixture(scope="module", name="sms")
def sms_fixture(tmp_path_factory) -> Iterator[SmsSandbox]:
    """`sms`: `keyun sandbox-sms` for a test module that imports this fixture."""
    sandbox = start_sms_sandbox(tmp_path_factory.mktemp("sandbox-sms"))
    yield sandbox
    assert stop_sms_sandbox(sandbox) == 0
