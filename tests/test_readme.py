"""The README runs as written: its ```sh blocks marked `<!-- readme-test -->` (the quick start, the
demo accounts and paying as a passenger), in order, as one bash session against a fresh
`keyun serve` as `make run` starts it (sandboxes and web pages too), with the venv's `keyun` on
the path and only `KEYUN_SERVER` pointing it at the test's port; then docs/payments.md's Python
example. A command that fails stops the session; a line ending in `# refused: REASON` must be
refused, with that reason; any other refusal fails the test.

It runs twice, at two dates and hours of the Beijing day, one of them late in the evening when
today's coaches have gone: the server and every `keyun` command see the same moved clock through
KEYUN_TEST_CLOCK_SHIFT_MS (keyun.common.clock)."""

from __future__ import annotations

import datetime as dt
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from keyun.common.clock import CHINA, SYSTEM_CLOCK, TEST_SHIFT_ENV

README = Path(__file__).parent.parent / "README.md"
PAYMENTS = README.parent / "docs" / "payments.md"
BIN = Path(sys.executable).parent
MARKER = "<!-- readme-test -->"
EXPECTED = re.compile(r"^(?P<command>.*?)\s+# refused: (?P<reason>[A-Z_]+)")
REFUSAL = re.compile(r"^refused: ([A-Z_]+)", re.MULTILINE)


def readme_blocks(text: str) -> list[list[str]]:
    """The lines of each ```sh block that directly follows the marker (on a line of its own)."""
    blocks = []
    for part in re.split(f"^{MARKER}$", text, flags=re.MULTILINE)[1:]:
        body = part.lstrip("\n")
        assert body.startswith("```sh\n"), f"{MARKER} must be followed by a ```sh block: {body[:60]!r}"
        blocks.append(body[len("```sh\n") :].split("\n```", 1)[0].splitlines())
    return blocks


def session_script(blocks: list[list[str]]) -> tuple[str, set[str]]:
    """One bash script of the blocks; a line marked `# refused: REASON` must fail. Returns the
    script and the reasons the README shows."""
    lines, shown = ["set -eo pipefail", "PS4='+ '", "set -x"], set()
    for line in (line for block in blocks for line in block):
        if expected := EXPECTED.match(line):
            shown.add(expected["reason"])
            command = expected["command"]
            lines.append(f"if {command}; then echo 'README: expected a refusal: {expected['reason']}' >&2; exit 97; fi")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n", shown


# (days from today, Beijing hour, minute): 23:40 is after the last shuttle of the day has left, so
# the shuttle the README boards is tomorrow's first; 08:20 is in the morning rush.
WHEN = {"late-evening": (2, 23, 40), "morning": (5, 8, 20)}


def clock_shift_ms(days: int, hour: int, minute: int) -> int:
    """How far to move the clock to read that Beijing day and time now."""
    now = dt.datetime.fromtimestamp(SYSTEM_CLOCK.now_ms() / 1000, CHINA)
    then = (now + dt.timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return round((then - now).total_seconds() * 1000)


@pytest.fixture(params=sorted(WHEN))
def shifted_env(request):
    """The environment of every Keyun process of one run: the real one, its clock moved."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYUN_")}
    return env | {TEST_SHIFT_ENV: str(clock_shift_ms(*WHEN[request.param])), "RAY_ADDRESS": ""}


@pytest.fixture
def demo_server(tmp_path, shifted_env):
    process = subprocess.Popen(
        # As `make run` starts it, on free ports.
        [str(BIN / "keyun"), "serve", "--demo", "--sandbox-pay", "--sandbox-sms", "--web", "0"]
        + ["--port", "0", "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=shifted_env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen = []
    while not (line := lines.get(timeout=120)).startswith("keyun listening on "):
        seen.append(line)
        assert process.poll() is None, "".join(seen)
    # The server says it runs at the moved time, loudly.
    shifted = dt.datetime.fromtimestamp((SYSTEM_CLOCK.now_ms() + int(shifted_env[TEST_SHIFT_ENV])) / 1000, CHINA)
    assert any(f"it reads {shifted:%Y-%m-%d %H}:" in seen_line for seen_line in seen), "".join(seen)
    # The web pages it prints the address of answer, the board logged in as the demo's board device.
    (web,) = [seen_line.split()[-1] for seen_line in seen if seen_line.startswith("keyun web on ")]
    for page in ("", "site", "kiosk", "board?station=SJZ"):
        with urllib.request.urlopen(web + page, timeout=10) as reply:
            assert reply.status == 200, page
    yield line.split()[-1]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


@pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl")), reason="the README's shell needs bash and curl"
)
def test_the_readme_runs_as_written(demo_server, shifted_env, tmp_path):
    script, shown = session_script(readme_blocks(README.read_text(encoding="utf-8")))
    home = tmp_path / "home"  # `keyun login` keeps its sessions here
    home.mkdir()
    env = shifted_env | {
        "PATH": f"{BIN}{os.pathsep}{shifted_env['PATH']}",
        "HOME": str(home),
        "KEYUN_SERVER": demo_server,
    }
    ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300, cwd=home, env=env)
    told = f"--- stdout\n{ran.stdout}\n--- stderr\n{ran.stderr}"
    assert ran.returncode == 0, told
    refused = set(REFUSAL.findall(ran.stderr))
    assert refused == shown, f"refused {sorted(refused)}, the README shows {sorted(shown)}\n{told}"
    assert "ticketed" in ran.stdout and "checked in" in ran.stdout, told

    # docs/payments.md's Python example, on the same server.
    example = PAYMENTS.read_text(encoding="utf-8").split("Try it with the demo", 1)[1].split("```python\n", 1)[1]
    example = example.split("```", 1)[0].replace("127.0.0.1:50051", demo_server)
    printed = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, timeout=60, env=shifted_env
    )
    assert printed.returncode == 0 and "/pay/wepay/" in printed.stdout, printed.stdout + printed.stderr


def test_the_readme_s_commands_name_no_fixed_date_or_id():
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4, "the quick start, the demo accounts (two blocks) and paying as a passenger"
    commands = [line.split(" # ", 1)[0] for block in blocks for line in block]
    fixed = [c for c in commands if re.search(r"\b20\d\d-?\d\d-?\d\d\b|\bA\d{6}\b", c)]
    assert not fixed, f"use --date today|tomorrow|+N and the ids commands print: {fixed}"
