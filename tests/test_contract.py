"""The contract as a client in another language sees it: reflection v1, the vendored google.rpc
protos that decode refusals, and the .proto files' consistency (buf lint and buf breaking)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

PROTO = Path(__file__).parent.parent / "proto"
# Reflection v1 has v1alpha's messages, field for field, under another package name, so v1alpha's
# classes write a genuine v1 request; only the method path says which protocol is asked for.  (The
# Node client, tests/node/contract.js, asks with the upstream v1 file itself.)
REFLECTION_V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def ask_reflection_v1(
    channel: grpc.Channel, *requests: reflection_pb2.ServerReflectionRequest
) -> list[reflection_pb2.ServerReflectionResponse]:
    info = channel.stream_stream(
        REFLECTION_V1,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    return list(info(iter(requests), timeout=30))


def test_reflection_v1_lists_the_services_and_returns_their_files(keyun):
    # A channel without the client's token: reflection needs none, as for v1alpha.
    with grpc.insecure_channel(keyun.target) as channel:
        listed, sales, itself = ask_reflection_v1(
            channel,
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="keyun.v1.Sales"),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
        )
    names = {service.name for service in listed.list_services_response.service}
    assert {
        "keyun.v1.Sales",
        "keyun.v1.Orders",
        "keyun.v1.Gate",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    } <= names
    files = {
        f.name: f
        for f in map(
            descriptor_pb2.FileDescriptorProto.FromString, sales.file_descriptor_response.file_descriptor_proto
        )
    }
    # The file with the service and everything it imports, so a client can build the messages.
    assert {"keyun/v1/sales.proto", "keyun/v1/common.proto", "google/protobuf/timestamp.proto"} <= set(files)
    assert "Sell" in {method.name for method in files["keyun/v1/sales.proto"].service[0].method}
    (v1,) = map(descriptor_pb2.FileDescriptorProto.FromString, itself.file_descriptor_response.file_descriptor_proto)
    assert (v1.name, v1.package, v1.service[0].method[0].input_type) == (
        "grpc/reflection/v1/reflection.proto",
        "grpc.reflection.v1",
        ".grpc.reflection.v1.ServerReflectionRequest",
    )


@pytest.mark.parametrize("module", ["status", "error_details", "code"])
def test_the_vendored_google_rpc_protos_are_the_ones_the_server_encodes_with(tmp_path, module):
    """proto/google/rpc/*.proto, shipped for clients in other languages, describe exactly the
    messages the server packs into grpc-status-details-bin (googleapis-common-protos)."""
    import importlib

    protoc = pytest.importorskip("grpc_tools.protoc")  # a dev dependency, pinned in pyproject.toml
    runtime = importlib.import_module(f"google.rpc.{module}_pb2").DESCRIPTOR
    include = str(Path(protoc.__file__).parent / "_proto")
    out = tmp_path / "set.binpb"
    assert (
        protoc.main(
            ["protoc", f"-I{PROTO}", f"-I{include}", f"--descriptor_set_out={out}", f"google/rpc/{module}.proto"]
        )
        == 0
    )
    (vendored,) = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    expected = descriptor_pb2.FileDescriptorProto()
    runtime.CopyToProto(expected)
    assert without_json_names(vendored) == expected


def without_json_names(file: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """The file as the Python runtime keeps it: protoc adds each field's JSON name, which is derived
    from the field's name anyway, and the runtime's copy leaves it out."""
    messages = list(file.message_type)
    while messages:
        message = messages.pop()
        messages.extend(message.nested_type)
        for field in message.field:
            field.ClearField("json_name")
    return file


def served_keyun_files(channel: grpc.Channel) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """Every keyun.v1 file as the server describes it over reflection (v1alpha, which every
    release has served), by file name."""
    from grpc_reflection.v1alpha import reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    (listed,) = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    services = [s.name for s in listed.list_services_response.service if s.name.startswith("keyun.v1.")]
    files = {}
    for name in services:  # one stream each: a stream may leave out files it sent before
        (answer,) = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol=name)])
        )
        for raw in answer.file_descriptor_response.file_descriptor_proto:
            file = descriptor_pb2.FileDescriptorProto.FromString(raw)
            if file.package == "keyun.v1":
                files[file.name] = file
    return files


def test_every_rpc_has_a_response_message_of_its_own(keyun):
    with grpc.insecure_channel(keyun.target) as channel:
        files = served_keyun_files(channel)
    methods = [
        (service.name, method) for file in files.values() for service in file.service for method in service.method
    ]
    from keyun.gateway.server import SERVICE_NAMES

    assert {f"keyun.v1.{service}" for service, _ in methods} == set(SERVICE_NAMES)
    mismatched = [
        f"{service}/{m.name} returns {m.output_type}"
        for service, m in methods
        if m.output_type != f".keyun.v1.{m.name}Response"
    ]
    assert not mismatched
    outputs = [m.output_type for _, m in methods]
    assert len(set(outputs)) == len(outputs)


def test_hold_and_sell_name_their_passengers_with_the_same_field_number(keyun):
    with grpc.insecure_channel(keyun.target) as channel:
        sales = served_keyun_files(channel)["keyun/v1/sales.proto"]
    messages = {m.name: {f.name: f.number for f in m.field} for m in sales.message_type}
    shared = set(messages["HoldRequest"]) & set(messages["SellRequest"])
    assert "passenger_ids" in shared
    assert {name: messages["SellRequest"][name] for name in shared} == {
        name: messages["HoldRequest"][name] for name in shared
    }


def test_outcomes_and_kinds_are_enums_not_free_strings(keyun):
    with grpc.insecure_channel(keyun.target) as channel:
        files = served_keyun_files(channel)
    strings = {
        f"{m.name}.{f.name}"
        for file in files.values()
        for m in file.message_type
        for f in m.field
        if f.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING
        and f.name in ("outcome", "kind", "status", "method", "state")
    }
    assert not strings


def test_audit_records_carry_the_outcome_as_an_enum_and_the_reason_beside_it(keyun):
    from keyun.terminals.client import KeyunClient, KeyunError
    from keyun.v1 import audit_pb2, audit_pb2_grpc

    from .conftest import logged_in

    with KeyunClient(keyun.target, attempts=1) as stranger, pytest.raises(KeyunError):
        stranger.login("master", "not-the-password")
    auditor = logged_in(KeyunClient(keyun.target), "auditor")
    audit = audit_pb2_grpc.AuditStub(auditor.channel)

    def listed(**where) -> list[audit_pb2.AuditRecord]:
        return list(
            auditor.call(
                audit.ListRecords,
                audit_pb2.ListRecordsRequest(action="keyun.v1.Accounts/Login", page_size=100, **where),
            ).records
        )

    everything, refused, ok = (
        listed(),
        listed(outcome=audit_pb2.AUDIT_OUTCOME_REFUSED),
        listed(outcome=audit_pb2.AUDIT_OUTCOME_OK),
    )
    assert {(r.outcome, r.reason) for r in refused} == {(audit_pb2.AUDIT_OUTCOME_REFUSED, "BAD_CREDENTIALS")}
    assert ok and {(r.outcome, r.reason) for r in ok} == {(audit_pb2.AUDIT_OUTCOME_OK, "")}
    assert sorted(r.seq for r in everything) == sorted(r.seq for r in refused + ok)
    assert [r.seq for r in listed(reason="BAD_CREDENTIALS")] == [r.seq for r in refused]
    for bad in ({"outcome": audit_pb2.AUDIT_OUTCOME_OK, "reason": "BAD_CREDENTIALS"}, {"outcome": 7}):
        with pytest.raises(KeyunError) as caught:
            listed(**bad)
        assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")
    auditor.close()


ROOT = PROTO.parent
BUF = ROOT / "tests" / "node" / "node_modules" / ".bin" / "buf"
# The contract as released: `buf breaking` compares the .proto files with it.  Each release adds
# its own image and points this at it (docs/api.md#the-contract).
LAST_RELEASE = PROTO / "release" / "keyun-v1.binpb"


def buf(*args: str, cwd: Path = ROOT, cache: Path) -> subprocess.CompletedProcess:
    if not BUF.exists():
        pytest.skip(
            f"buf is not installed ({BUF}): `make test` installs it with npm, and skips this where npm is missing"
        )
    env = {**os.environ, "BUF_CACHE_DIR": str(cache)}
    return subprocess.run([str(BUF), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_buf_lint_finds_nothing(tmp_path):
    linted = buf("lint", cache=tmp_path)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_buf_breaking_finds_nothing_against_the_last_release(tmp_path):
    checked = buf("breaking", "--against", str(LAST_RELEASE), cache=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_buf_breaking_would_catch_a_renumbered_field(tmp_path):
    """The check is not vacuous: the contract with SellRequest.passenger_ids moved is refused."""
    copy = tmp_path / "repo"
    shutil.copytree(PROTO, copy / "proto", ignore=shutil.ignore_patterns("*.py", "*.pyi", "__pycache__"))
    shutil.copy(ROOT / "buf.yaml", copy / "buf.yaml")
    sales = copy / "proto" / "keyun" / "v1" / "sales.proto"
    sales.write_text(
        sales.read_text().replace(
            "repeated string passenger_ids = 8;\n  // HoldRequest",
            "repeated string passenger_ids = 99;\n  // HoldRequest",  # a number no field has
        )
    )
    checked = buf("breaking", "--against", str(LAST_RELEASE), cwd=copy, cache=tmp_path / "cache")
    assert checked.returncode != 0 and "SellRequest" in checked.stdout and "passenger_ids" in checked.stdout, (
        checked.stdout + checked.stderr
    )
