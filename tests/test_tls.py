"""TLS for every terminal connection: station certificates, TLS and mTLS servers, and the rule
that plain text is only served on loopback. Real certificates, real handshakes, real servers."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keyun.app.server import create_server
from keyun.common.tls import channel_credentials
from keyun.gateway import tls
from keyun.terminals.client import KeyunClient, KeyunError, audit_outcome
from keyun.v1 import accounts_pb2, audit_pb2, audit_pb2_grpc, diagnostics_pb2, diagnostics_pb2_grpc

from .conftest import ServerThread, logged_in

KEYUN = str(Path(sys.executable).parent / "keyun")
START_TIMEOUT_S = 120
POSIX = sys.platform != "win32"  # file modes are only enforced on POSIX


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def san_of(path: Path) -> tuple[set[str], set[str]]:
    names = load_cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(names.get_values_for_type(x509.DNSName)), {str(a) for a in names.get_values_for_type(x509.IPAddress)}


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    """A station CA and server certificate, and a certificate for device gate-G1."""
    directory = tmp_path_factory.mktemp("station") / "tls"
    tls.init_station_certs(directory, "甲站", ["keyun.station.example"])
    tls.issue_client_cert(directory, "gate-G1")
    return directory


@pytest.fixture(scope="module")
def stranger(tmp_path_factory) -> Path:
    """Another station's CA, with a device certificate of its own."""
    directory = tmp_path_factory.mktemp("stranger") / "tls"
    tls.init_station_certs(directory, "乙站", [])
    tls.issue_client_cert(directory, "gate-G1")
    return directory


def client_files(directory: Path, device: str) -> dict[str, Path]:
    return {"cert_file": directory / "clients" / f"{device}.pem", "key_file": directory / "clients" / f"{device}.key"}


# --- certificates --------------------------------------------------------------------------------


def test_certs_init_writes_private_keys_and_names_every_host(tmp_path):
    directory = tmp_path / "tls"
    paths = tls.init_station_certs(
        directory, "石家庄客运总站", ["keyun.sjz.example", "10.20.30.40", "[fd00::7]", "KEYUN.sjz.example"]
    )

    assert sorted(p.name for p in directory.iterdir()) == ["ca.key", "ca.pem", "server.key", "server.pem"]
    if POSIX:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(paths.ca_key.stat().st_mode) == 0o600
        assert stat.S_IMODE(paths.server_key.stat().st_mode) == 0o600
    dns, ips = san_of(paths.server_cert)
    assert dns == {"keyun.sjz.example", "localhost"}
    assert ips == {"10.20.30.40", "fd00::7", "127.0.0.1"}

    ca, server = load_cert(paths.ca_cert), load_cert(paths.server_cert)
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ExtendedKeyUsageOID.SERVER_AUTH in server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value


def test_certs_init_refuses_to_replace_a_station_ca_unless_forced(tmp_path):
    directory = tmp_path / "tls"
    paths = tls.init_station_certs(directory, "甲站", [])
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    with pytest.raises(tls.TlsError, match="already holds ca.pem"):
        tls.init_station_certs(directory, "甲站", ["other.example"])
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before

    tls.init_station_certs(directory, "甲站", ["other.example"], force=True)
    assert paths.ca_cert.read_bytes() != before["ca.pem"] and "other.example" in san_of(paths.server_cert)[0]
    if POSIX:
        assert stat.S_IMODE(paths.ca_key.stat().st_mode) == 0o600


def test_certs_refuse_hosts_and_device_names_that_cannot_work(tmp_path):
    for host in ("0.0.0.0", "::", "", "two words"):
        with pytest.raises(tls.TlsError):
            tls.init_station_certs(tmp_path / "tls", "甲站", [host])
    assert not (tmp_path / "tls").exists()  # nothing written before the hosts were checked
    tls.init_station_certs(tmp_path / "tls", "甲站", [])
    for name in ("../gate", ".hidden", "gate G1", "", "x" * 65):
        with pytest.raises(tls.TlsError):
            tls.issue_client_cert(tmp_path / "tls", name)
    with pytest.raises(tls.TlsError, match="run keyun certs init"):
        tls.issue_client_cert(tmp_path / "elsewhere", "gate-G1")


def test_a_client_certificate_names_its_device_and_is_signed_by_the_station(station):
    files = client_files(station, "gate-G1")
    cert = load_cert(files["cert_file"])
    cert.verify_directly_issued_by(load_cert(station / "ca.pem"))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "gate-G1"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    if POSIX:
        assert stat.S_IMODE(files["key_file"].stat().st_mode) == 0o600
    with pytest.raises(tls.TlsError, match="already holds a certificate for gate-G1"):
        tls.issue_client_cert(station, "gate-G1")


def test_loopback_is_only_this_machine():
    assert all(tls.is_loopback(h) for h in ("localhost", "127.0.0.1", "127.9.8.7", "::1", "[::1]"))
    assert not any(tls.is_loopback(h) for h in ("0.0.0.0", "::", "", "10.0.0.1", "keyun.example", "localhost.example"))


def test_the_certs_verbs_print_paths_and_never_keys(tmp_path):
    directory = tmp_path / "tls"
    init = subprocess.run(
        [KEYUN, "certs", "init", "--dir", str(directory), "--station", "甲站", "--host", "10.1.2.3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert init.returncode == 0, init.stderr
    assert str(directory / "ca.pem") in init.stdout and "10.1.2.3" in init.stdout and "127.0.0.1" in init.stdout
    again = subprocess.run(
        [KEYUN, "certs", "init", "--dir", str(directory), "--station", "甲站"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 1 and "--force" in again.stderr
    device = subprocess.run(
        [KEYUN, "certs", "client", "--dir", str(directory), "--name", "counter-3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert device.returncode == 0, device.stderr
    assert str(directory / "clients" / "counter-3.pem") in device.stdout
    for output in (init.stdout + init.stderr, again.stderr, device.stdout + device.stderr):
        assert "PRIVATE KEY" not in output and "BEGIN" not in output


# --- a real Keyun over TLS -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(ray_session, station, tmp_path_factory):
    server = ServerThread(tmp_path_factory.mktemp("data"), shards=1, tls=tls.TlsConfig(station))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mtls_server(ray_session, station, tmp_path_factory):
    server = ServerThread(
        tmp_path_factory.mktemp("data"), shards=1, tls=tls.TlsConfig(station, require_client_cert=True)
    )
    yield server
    server.stop()


def refused_code(target: str, **files) -> grpc.StatusCode:
    with KeyunClient(target, deadline_s=3, attempts=1, **files) as client, pytest.raises(KeyunError) as refused:
        client.stations()
    return refused.value.code


def test_a_terminal_trusting_the_station_ca_works_over_tls(tls_server, station):
    # ListStations needs no login: the call reaching the service proves the handshake succeeded.
    with KeyunClient(tls_server.target, ca_file=station / "ca.pem", attempts=1) as client:
        assert client.stations() == []
    # By name too: localhost is always in the server certificate.
    with KeyunClient(f"localhost:{tls_server.port}", ca_file=station / "ca.pem", attempts=1) as client:
        assert client.stations() == []


def test_plain_text_and_other_stations_cas_are_turned_away(tls_server, stranger):
    assert refused_code(tls_server.target) == grpc.StatusCode.UNAVAILABLE
    assert refused_code(tls_server.target, ca_file=stranger / "ca.pem") == grpc.StatusCode.UNAVAILABLE


def test_mtls_admits_only_devices_with_a_station_certificate(mtls_server, station, stranger):
    assert refused_code(mtls_server.target, ca_file=station / "ca.pem") == grpc.StatusCode.UNAVAILABLE
    assert (
        refused_code(mtls_server.target, ca_file=station / "ca.pem", **client_files(stranger, "gate-G1"))
        == grpc.StatusCode.UNAVAILABLE
    )
    with KeyunClient(mtls_server.target, ca_file=station / "ca.pem", **client_files(station, "gate-G1")) as client:
        assert client.stations() == []


def test_audit_records_name_the_device_of_the_client_certificate(mtls_server, station):
    with logged_in(
        KeyunClient(mtls_server.target, ca_file=station / "ca.pem", **client_files(station, "gate-G1")), "seller"
    ) as seller:
        seller.logout()  # both audited: the login before the session exists, the logout within it
    with logged_in(
        KeyunClient(mtls_server.target, ca_file=station / "ca.pem", **client_files(station, "gate-G1")), "auditor"
    ) as auditor:
        audit = audit_pb2_grpc.AuditStub(auditor.channel)
        for action in ("keyun.v1.Accounts/Login", "keyun.v1.Accounts/Logout"):
            records = auditor.call(
                audit.ListRecords, audit_pb2.ListRecordsRequest(action=action, page_size=100)
            ).records
            assert records and {r.device for r in records if audit_outcome(r) == "OK"} == {"gate-G1"}, action


class WhoAmI(diagnostics_pb2_grpc.DiagnosticsServicer):
    """Answers every Echo with the caller's peer_identity, as an auth interceptor would see it."""

    async def Echo(self, request, context):
        return diagnostics_pb2.EchoResponse(payload=(tls.peer_identity(context) or "<none>").encode())


async def identity_seen(directory: Path, require_client_cert: bool, **files) -> str:
    server = grpc.aio.server()
    diagnostics_pb2_grpc.add_DiagnosticsServicer_to_server(WhoAmI(), server)
    port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(directory, require_client_cert))
    await server.start()
    try:
        credentials = channel_credentials(directory / "ca.pem", files.get("cert_file"), files.get("key_file"))
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            response = await diagnostics_pb2_grpc.DiagnosticsStub(channel).Echo(
                diagnostics_pb2.EchoRequest(), timeout=5
            )
        return response.payload.decode()
    finally:
        await server.stop(0)


def test_peer_identity_is_the_verified_device_name_only_with_mtls(station):
    assert asyncio.run(identity_seen(station, True, **client_files(station, "gate-G1"))) == "gate-G1"
    # A server that does not require client certificates never asks for one: no identity.
    assert asyncio.run(identity_seen(station, False, **client_files(station, "gate-G1"))) == "<none>"
    assert asyncio.run(identity_seen(station, False)) == "<none>"


def test_a_server_without_tls_refuses_to_bind_beyond_loopback(ray_session, tmp_path):
    server = create_server(f"test-{uuid.uuid4().hex[:8]}", tmp_path / "data", 1)
    try:
        with pytest.raises(tls.TlsError, match="only allowed on loopback"):
            asyncio.run(server.start("0.0.0.0", 0))
        assert server.server is None
    finally:
        server.pool.kill()


# --- keyun serve ---------------------------------------------------------------------------------


def start_serve(*args: str) -> tuple[subprocess.Popen, str, list[str]]:
    """`keyun serve ARGS` as a process: its port and the log lines up to `keyun listening on`."""
    process = subprocess.Popen(
        [KEYUN, "serve", "--port", "0", "--shards", "1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "RAY_ADDRESS": ""},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen: list[str] = []
    while not seen or not seen[-1].startswith("keyun listening on "):
        seen.append(lines.get(timeout=START_TIMEOUT_S))
        assert process.poll() is None, "".join(seen)
    return process, seen[-1].split(":")[-1].strip(), seen


def stop_serve(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


def terminal(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([KEYUN, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def test_serve_on_every_interface_makes_station_certs_and_speaks_only_tls(tmp_path):
    data_dir = tmp_path / "data"
    process, port, log = start_serve("--host", "0.0.0.0", "--data-dir", str(data_dir))
    try:
        station = tmp_path / "data-keys" / "tls"  # with the station's keys, never in the data dir (backups)
        ca = station / "ca.pem"
        assert ca.exists() and not (data_dir / "tls").exists()
        assert "127.0.0.1" in san_of(station / "server.pem")[1]
        text = "".join(log)
        assert "serving TLS on 0.0.0.0" in text and str(ca) in text and "plain text" not in text

        target = f"127.0.0.1:{port}"
        trusted = terminal("counter", "stations", "--server", target, "--json", env={"KEYUN_CA": str(ca)})
        assert trusted.returncode == 0 and trusted.stdout.strip() == "[]", trusted.stderr
        plain = terminal("counter", "stations", "--server", target, "--deadline", "3", env={"KEYUN_CA": ""})
        assert plain.returncode == 1 and "UNAVAILABLE" in plain.stderr
    finally:
        stop_serve(process)


def test_serve_on_loopback_is_plain_text_and_says_so(tmp_path):
    process, port, log = start_serve("--host", "127.0.0.1", "--data-dir", str(tmp_path / "data"))
    try:
        assert any("WARNING" in line and "plain text is only allowed on loopback" in line for line in log), "".join(log)
        assert not (tmp_path / "data" / "tls").exists()
        with KeyunClient(f"127.0.0.1:{port}") as client:
            assert client.stations() == []
    finally:
        stop_serve(process)


def test_serve_refuses_a_tls_dir_without_certificates(tmp_path):
    result = subprocess.run(
        [
            KEYUN,
            "serve",
            "--host",
            "0.0.0.0",
            "--tls-dir",
            str(tmp_path / "none"),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "server.pem" in result.stderr


def test_an_offline_ca_keeps_its_key_off_the_server_and_its_device_certificates_work(ray_session, tmp_path):
    """`keyun certs init --offline --out DIR`: the server serves mTLS with no CA key anywhere under its
    directories, issuing from the server says the CA is offline, and a device certificate minted
    where the CA key is kept gets a device's calls through."""
    server_root, offline = tmp_path / "server", tmp_path / "removable" / "station-ca"
    server_tls = server_root / "tls"
    init = subprocess.run(
        [KEYUN, "certs", "init", "--dir", str(server_tls), "--station", "甲站", "--offline", "--out", str(offline)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert init.returncode == 0, init.stderr
    assert sorted(p.name for p in server_tls.iterdir()) == ["ca.pem", "server.key", "server.pem"]
    assert (
        sorted(p.name for p in offline.iterdir()) == ["ca.key", "ca.pem"]
        and (offline / "ca.pem").read_bytes() == (server_tls / "ca.pem").read_bytes()
    )
    assert str(offline / "ca.key") in init.stdout and "BEGIN" not in init.stdout + init.stderr
    inside = subprocess.run(
        [
            KEYUN,
            "certs",
            "init",
            "--dir",
            str(server_tls),
            "--station",
            "甲站",
            "--offline",
            "--out",
            str(server_tls / "ca"),
            "--force",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        inside.returncode == 1
        and "must not be in the server's directory" in inside.stderr
        and not (server_tls / "ca").exists()
    )

    on_server = subprocess.run(
        [KEYUN, "certs", "client", "--dir", str(server_tls), "--name", "gate-G2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        on_server.returncode == 1
        and "the station CA is offline" in on_server.stderr
        and not (server_tls / "clients").exists()
    )
    minted = subprocess.run(
        [KEYUN, "certs", "client", "--dir", str(offline), "--name", "gate-G1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert minted.returncode == 0, minted.stderr

    server = ServerThread(server_root / "data", shards=1, tls=tls.TlsConfig(server_tls, require_client_cert=True))
    try:
        with logged_in(
            KeyunClient(server.target, ca_file=server_tls / "ca.pem", attempts=1, **client_files(offline, "gate-G1")),
            "gate1",
        ) as gate:
            assert gate.call(gate.accounts.GetProfile, accounts_pb2.GetProfileRequest()).account.login_name == "gate1"
        assert refused_code(server.target, ca_file=server_tls / "ca.pem") == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop()

    ca_public = load_cert(offline / "ca.pem").public_key()
    ca_key = serialization.load_pem_private_key((offline / "ca.key").read_bytes(), password=None)
    ca_secret = ca_key.private_numbers().private_value.to_bytes(32, "big")
    files = [path for path in server_root.rglob("*") if path.is_file()]
    assert any(path.name == "server.key" for path in files) and any(
        "keys" in path.parent.name for path in files
    )  # the walk saw the key dir
    for path in files:
        data = path.read_bytes()
        assert ca_secret not in data and (offline / "ca.key").read_bytes() not in data, path
        if b"PRIVATE KEY" in data:
            assert serialization.load_pem_private_key(data, password=None).public_key() != ca_public, path
