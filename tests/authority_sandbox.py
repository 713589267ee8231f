"""`keyun sandbox-authority` as a real process for tests, and a small client of its JSON API."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from keyun.common.authority_wire import CONFIG_FILE

PREFIX = "sandbox-authority listening on 127.0.0.1:"


@dataclass
class AuthoritySandbox:
    process: subprocess.Popen
    directory: Path
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key_file(self) -> Path:
        return self.directory / CONFIG_FILE

    def received(self) -> dict:
        with urllib.request.urlopen(self.base_url + "/received.json", timeout=10) as response:
            return json.loads(response.read())

    def record_ids(self) -> set[str]:
        return {r["record_id"] for r in self.received()["records"]}

    def control(self, path: str, document: dict) -> dict:
        request = urllib.request.Request(
            self.base_url + path, json.dumps(document).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def page(self) -> str:
        with urllib.request.urlopen(self.base_url + "/received", timeout=10) as response:
            return response.read().decode()


def start_authority_sandbox(directory: Path, *extra: str) -> AuthoritySandbox:
    command = [sys.executable, "-m", "keyun.app.cli", "sandbox-authority", "--port", "0", "--dir", str(directory)]
    command += ["--state", str(directory / "state.json"), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()  # printed once it listens, or it exits
    if not line.startswith(PREFIX):
        process.kill()
        raise AssertionError(f"the authority sandbox did not start: {line!r} {process.stderr.read()}")
    return AuthoritySandbox(process, directory, int(line.removeprefix(PREFIX)))


def stop_authority_sandbox(sandbox: AuthoritySandbox) -> int:
    sandbox.process.terminate()
    code = sandbox.process.wait(timeout=30)
    sandbox.process.stdout.close()
    sandbox.process.stderr.close()
    return code
