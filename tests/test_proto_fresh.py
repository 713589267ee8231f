"""The generated code in proto/keyun/v1 matches the .proto files (run `make proto` when it fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

protoc = pytest.importorskip("grpc_tools.protoc")

PROTO = Path(__file__).parent.parent / "proto"


def test_generated_code_is_fresh(tmp_path):
    sources = sorted(str(p.relative_to(PROTO)) for p in (PROTO / "keyun" / "v1").glob("*.proto"))
    assert sources
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{include}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        *sources,
    ]
    assert protoc.main(args) == 0
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py*"))
    assert generated
    stale = [str(p) for p in generated if (tmp_path / p).read_bytes() != (PROTO / p).read_bytes()]
    assert not stale, f"stale generated code, run `make proto`: {stale}"
