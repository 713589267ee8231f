"""`keyun` loads only the module of the verb it runs (app/cli.py's VERBS): the table must name every
verb, each group must add its own verbs, and a command must not import what other verbs need."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from keyun.app import cli


def verbs_added(verb: str | None) -> set[str]:
    parser = argparse.ArgumentParser()
    verbs = parser.add_subparsers(dest="verb")
    cli.add_verbs(verbs, verb)
    return set(verbs.choices)


def test_the_table_names_every_verb_once():
    named = [verb for names in cli.VERBS for verb in names]
    assert len(named) == len(set(named)), "a verb is in two groups"
    assert set(named) == verbs_added(None)


@pytest.mark.parametrize("group", list(cli.VERBS), ids=lambda names: names[0])
def test_each_verb_gets_its_own_group_s_verbs(group):
    for verb in group:
        assert verbs_added(verb) == set(group)


def test_a_client_verb_does_not_import_the_server_the_sandboxes_or_the_web_pages():
    probe = (
        "import sys; from keyun.app import cli\n"
        "try:\n    cli.main(['order', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'ray', 'argon2', 'lmdb')))"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout.strip().splitlines()[-1] == "[]", ran.stdout
