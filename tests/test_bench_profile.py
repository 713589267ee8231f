"""bench.profile: py-spy samples a real gateway under load; bench.flame summarises and draws them."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from bench.flame import read_stacks, top_functions, write_flame

ROOT = Path(__file__).resolve().parents[1]


def test_stacks_are_summarised_by_function_and_drawn(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "main (a.py:1);serve (a.py:9);handle <&> (b.py:3) 6\n"
        "main (a.py:1);serve (a.py:10);handle <&> (b.py:4) 2\n"
        "main (a.py:1);idle (c.py:2) 2\n"
        "not a stack line\n"
    )
    stacks = read_stacks(raw)
    assert len(stacks) == 3  # the malformed line is skipped
    total, rows = top_functions(stacks)
    by_name = {name: (own, inclusive) for name, own, inclusive in rows}
    assert total == 10
    assert by_name["main (a.py)"] == (0, 10)
    assert by_name["serve (a.py)"] == (0, 8)  # two lines of one function are one function
    assert by_name["handle <&> (b.py)"] == (8, 8)
    assert by_name["idle (c.py)"] == (2, 2)
    chart = tmp_path / "chart.svg"
    write_flame(chart, stacks, "a <test> & more")
    titles = [t.text for t in ElementTree.parse(chart).getroot().iter("{http://www.w3.org/2000/svg}title")]
    assert "handle <&> (b.py): 8 samples, 80.0 %" in titles


def test_a_frame_name_read_half_changed_still_makes_a_well_formed_chart(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_bytes(b"main (a.py:1);\x11\x00 (Echo:-1943998528);\xff\xfe (b.py:2) 3\n")
    stacks = read_stacks(raw)
    assert stacks[0][1] == 3 and all("\x00" not in frame and "\x11" not in frame for frame in stacks[0][0])
    chart = tmp_path / "chart.svg"
    write_flame(chart, stacks, "torn")
    ElementTree.parse(chart)  # well-formed


def test_profile_samples_the_gateway_during_a_scenario(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.profile",
            "--scenario",
            "echo",
            "--seconds",
            "2",
            "--concurrency",
            "50",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "echo:" in done.stdout and "0 failed" in done.stdout
    assert "(gateway/" in done.stdout  # the summary names the gateway's own functions
    (raw,) = tmp_path.glob("profile-echo-*.txt")
    stacks = read_stacks(raw)
    assert any("MetricsInterceptor" in frame for frames, _ in stacks for frame in frames)
    ElementTree.parse(raw.with_suffix(".svg"))  # a well-formed chart
