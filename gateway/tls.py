"""TLS for every terminal connection: a station CA, its server and device certificates, and the
gRPC credentials made from them (the terminals' half, channel credentials, is keyun.common.tls).

Plain text is only allowed on loopback. `keyun certs init` makes a station CA and a server
certificate; terminals trust the CA's `ca.pem`. Devices may carry a client certificate issued by
the same CA (`keyun certs client`); with `keyun serve --require-client-cert` only they connect,
and `peer_identity` names the device in every call.

With `--offline --out DIR` the CA's private key is written to DIR alone, a directory the operator
takes off the server: the server's directory gets the CA certificate and its own certificate and
key, which is all serving needs.  Device certificates are then issued where the CA key is kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import ipaddress
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keyun.common.files import write_atomically
from keyun.common.tls import TlsError

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SERVER_CERT = "server.pem"
SERVER_KEY = "server.key"
CLIENTS = "clients"
STATION_FILES = (CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY)

# 825 days is the longest server certificate lifetime that mainstream TLS clients have accepted;
# renewing within it keeps a station's certificates usable by any client library.
DEFAULT_DAYS = 825
# Terminals keep the CA certificate for years: renewing the server certificate must not mean
# visiting every counter, kiosk and gate to give them a new ca.pem.
CA_DAYS = 3650
# Certificates become valid a little in the past, so a terminal whose clock is behind the
# server's by a few minutes still accepts a certificate made just now.
CLOCK_SKEW = dt.timedelta(minutes=5)
# X.509 caps a common name at 64 characters (ub-common-name); the CA's name adds " CA".
MAX_STATION_CHARS = 61
MAX_DEVICE_CHARS = 64
# A device name becomes a file name under clients/: no separators, no leading dot, no spaces.
DEVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Always in the server certificate, so terminals on the station machine itself connect by either.
LOCAL_HOSTS = ("localhost", "127.0.0.1")
# Keys and the directory holding them are for the station's operator account alone.
KEY_MODE = 0o600
DIR_MODE = 0o700
# Other files (certificates) are public: anyone may read them.
CERT_MODE = 0o644
# gRPC's auth context key for the verified client certificate's subject common name.
COMMON_NAME_KEY = "x509_common_name"


@dataclass(frozen=True, slots=True)
class CertPaths:
    """Where `init_station_certs` wrote a station's CA and server certificate."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def of(cls, directory: Path) -> CertPaths:
        return cls(directory, directory / CA_CERT, directory / CA_KEY, directory / SERVER_CERT, directory / SERVER_KEY)


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """How a server binds: with the certificates in `directory`, and whether every client must
    present a certificate from the station CA (mTLS)."""

    directory: Path
    require_client_cert: bool = False


# --- making certificates -----------------------------------------------------------------------


def init_station_certs(
    directory: Path,
    station: str,
    hosts: list[str],
    days: int = DEFAULT_DAYS,
    force: bool = False,
    offline_ca: Path | None = None,
) -> CertPaths:
    """Make a station CA and a server certificate for `hosts` (plus localhost and 127.0.0.1).

    With `offline_ca`, the CA's key and certificate go there and `directory` (the server's) gets
    only the CA certificate and the server's own pair: whoever takes the server cannot mint
    device certificates.  Refuses to replace existing files unless `force`: a new CA means every
    terminal needs the new ca.pem, and every device certificate issued by the old one stops working.
    """
    station = _checked_station(station)
    names = _subject_alternative_names([*hosts, *LOCAL_HOSTS])
    _check_days(days)
    ca_home = directory if offline_ca is None else _checked_offline(offline_ca, directory)
    paths = dataclasses.replace(CertPaths.of(directory), ca_key=ca_home / CA_KEY)
    for home, files in ((directory, STATION_FILES), (ca_home, (CA_CERT, CA_KEY))):
        existing = [name for name in files if (home / name).exists()]
        if existing and not force:
            raise TlsError(
                f"{home} already holds {', '.join(existing)}; pass --force to replace the station CA (every terminal "
                f"then needs the new {CA_CERT})"
            )
    _private_directory(directory)
    _private_directory(ca_home)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, station, now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _server_certificate(server_key, ca_key, ca_cert, station, names, now, days)
    _write_private(paths.ca_key, _key_pem(ca_key))
    _write_public(ca_home / CA_CERT, _cert_pem(ca_cert))
    _write_public(paths.ca_cert, _cert_pem(ca_cert))
    _write_private(paths.server_key, _key_pem(server_key))
    _write_public(paths.server_cert, _cert_pem(server_cert))
    if offline_ca is not None:
        # A key of the CA this replaces (--force) must not stay behind on the server either.
        (directory / CA_KEY).unlink(missing_ok=True)
    return paths


def _checked_offline(offline_ca: Path, server_dir: Path) -> Path:
    """The offline CA's directory, which must lie outside the server's: the key is to leave it."""
    offline, server = offline_ca.resolve(), server_dir.resolve()
    if offline == server or server in offline.parents:
        raise TlsError(
            f"--out {offline_ca} is inside --dir {server_dir}: the offline CA's key must not be in the server's "
            "directory"
        )
    return offline_ca


def issue_client_cert(directory: Path, name: str, days: int = DEFAULT_DAYS, force: bool = False) -> tuple[Path, Path]:
    """A client certificate for device `name` (its common name) signed by the station CA in
    `directory`, written as clients/<name>.pem and clients/<name>.key."""
    name = _checked_device(name)
    _check_days(days)
    ca_cert, ca_key = _load_ca(directory)
    clients = directory / CLIENTS
    cert_path, key_path = clients / f"{name}.pem", clients / f"{name}.key"
    if (cert_path.exists() or key_path.exists()) and not force:
        raise TlsError(f"{clients} already holds a certificate for {name}; pass --force to issue a new one")
    _private_directory(clients)
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), *_station_attributes(ca_cert)])
    builder = _leaf_builder(subject, key, ca_key, ca_cert, now, days).add_extension(
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
    )
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_private(key_path, _key_pem(key))
    _write_public(cert_path, _cert_pem(cert))
    return cert_path, key_path


def _ca_certificate(key: ec.EllipticCurvePrivateKey, station: str, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{station} CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Keyun"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        # path_length=0: this CA signs servers and devices, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    station: str,
    names: list[x509.GeneralName],
    now: dt.datetime,
    days: int,
) -> x509.Certificate:
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, station), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Keyun")]
    )
    builder = (
        _leaf_builder(subject, key, ca_key, ca_cert, now, days)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    return builder.sign(ca_key, hashes.SHA256())


def _leaf_builder(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: dt.datetime,
    days: int,
) -> x509.CertificateBuilder:
    """What server and device certificates share: issued by the CA, not a CA, signing only."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )


def _station_attributes(ca_cert: x509.Certificate) -> list[x509.NameAttribute]:
    return list(ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))


def _subject_alternative_names(hosts: list[str]) -> list[x509.GeneralName]:
    """Each host as an IP address or a DNS name, without duplicates, in the order given."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        name = _general_name(host)
        if name not in names:
            names.append(name)
    return names


def _general_name(host: str) -> x509.GeneralName:
    text = host.strip().strip("[]")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return x509.DNSName(_dns_name(text))
    if address.is_unspecified:
        raise TlsError(
            f"{host} is not an address a terminal can connect to; name this machine's own address or host name"
        )
    return x509.IPAddress(address)


def _dns_name(text: str) -> str:
    if not text or any(c.isspace() or c in "/:@" for c in text):
        raise TlsError(f"{text!r} is not a host name")
    try:
        # Certificates carry internationalised names in their ASCII (punycode) form.
        return text.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise TlsError(f"{text!r} is not a host name") from None


def _checked_station(station: str) -> str:
    station = station.strip()
    if not station or len(station) > MAX_STATION_CHARS:
        raise TlsError(f"the station name must have 1 to {MAX_STATION_CHARS} characters")
    return station


def _checked_device(name: str) -> str:
    if len(name) > MAX_DEVICE_CHARS or not DEVICE_NAME.fullmatch(name):
        raise TlsError(
            f"device name {name!r}: use 1 to {MAX_DEVICE_CHARS} letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


def _check_days(days: int) -> None:
    if not 1 <= days <= CA_DAYS:
        raise TlsError(f"days must be between 1 and {CA_DAYS} (the station CA's lifetime)")


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    paths = CertPaths.of(directory)
    if paths.ca_cert.exists() and not paths.ca_key.exists():
        raise TlsError(
            f"the station CA is offline: {directory} holds {CA_CERT} but not its key {CA_KEY}. "
            "Issue device certificates where the CA key is kept: keyun certs client --dir <the offline CA directory> "
            "--name NAME"
        )
    missing = [p.name for p in (paths.ca_cert, paths.ca_key) if not p.exists()]
    if missing:
        raise TlsError(f"{directory} has no {' or '.join(missing)}; run keyun certs init --dir {directory} first")
    cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise TlsError(f"{paths.ca_key} is not the key of {paths.ca_cert}")
    return cert, key


# --- files ---------------------------------------------------------------------------------------


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _private_directory(directory: Path) -> None:
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask, and an existing directory keeps its mode: set it.
    directory.chmod(DIR_MODE)


def _write_private(path: Path, data: bytes) -> None:
    write_atomically(path, data, KEY_MODE)


def _write_public(path: Path, data: bytes) -> None:
    write_atomically(path, data, CERT_MODE)


# --- gRPC credentials and identity ---------------------------------------------------------------


def server_credentials(directory: Path, require_client_cert: bool) -> grpc.ServerCredentials:
    """The server's certificate and key from `directory`; with `require_client_cert`, the
    handshake also demands a client certificate signed by the station CA and verifies it."""
    paths = CertPaths.of(directory)
    needed = (paths.server_cert, paths.server_key, *((paths.ca_cert,) if require_client_cert else ()))
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        raise TlsError(f"{directory} has no {', '.join(missing)}; make it with keyun certs init --dir {directory}")
    pair = (paths.server_key.read_bytes(), paths.server_cert.read_bytes())
    if not require_client_cert:
        # Without root certificates gRPC does not ask for a client certificate at all, so an
        # unverified one can never reach peer_identity.
        return grpc.ssl_server_credentials([pair])
    return grpc.ssl_server_credentials([pair], root_certificates=paths.ca_cert.read_bytes(), require_client_auth=True)


def peer_identity(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the caller's verified client certificate, or None without mTLS.

    Only servers made with require_client_cert ask for client certificates, and they verify them
    against the station CA during the handshake, so any common name here was verified.
    """
    names = context.auth_context().get(COMMON_NAME_KEY)
    if not names:
        return None
    return names[0].decode("utf-8")


def is_loopback(host: str) -> bool:
    """Whether `host` only reaches this machine: localhost, 127.0.0.0/8 or ::1. The unspecified
    addresses (0.0.0.0, ::, "") bind every interface, so they are not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- keyun serve ---------------------------------------------------------------------------------


def serving_tls(
    host: str, tls_dir: Path | None, require_client_cert: bool, key_dir: Path
) -> tuple[TlsConfig | None, CertPaths | None]:
    """The TLS a `keyun serve` on `host` uses, and the certificates it made if it made any.

    With `tls_dir`, that directory. Without it, plain text on a loopback host; anywhere else (or
    when client certificates are required) `<key_dir>/tls`, made on first start: with the
    station's other keys, outside the data directory, so backups of the data never hold the CA's
    private key.  There is no way to serve plain text on a non-loopback address.
    """
    if tls_dir is None and is_loopback(host) and not require_client_cert:
        return None, None
    created = None
    if tls_dir is None:
        tls_dir = key_dir / "tls"
        if not CertPaths.of(tls_dir).server_cert.exists():
            created = init_station_certs(tls_dir, _station_from_host(), _hosts_for(host))
    config = TlsConfig(tls_dir, require_client_cert)
    server_credentials(config.directory, config.require_client_cert)  # fail now, not at bind time
    return config, created


def _hosts_for(bind_host: str) -> list[str]:
    """The names terminals may use for a server bound to `bind_host`: that address unless it is
    every interface, and this machine's host name."""
    hosts = [socket.gethostname()]
    bare = bind_host.strip("[]")
    try:
        if not ipaddress.ip_address(bare).is_unspecified:
            hosts.insert(0, bare)
    except ValueError:
        if bare:
            hosts.insert(0, bare)
    return hosts


def _station_from_host() -> str:
    return socket.gethostname()[:MAX_STATION_CHARS] or "keyun"


# --- keyun certs ---------------------------------------------------------------------------------


def add_verbs(verbs) -> None:
    certs = verbs.add_parser(
        "certs", help="TLS certificates: a station CA and server certificate, device certificates"
    ).add_subparsers(dest="action", required=True)

    p = certs.add_parser("init", help="make a station CA and a server certificate (keyun serve --tls-dir DIR)")
    p.add_argument("--dir", type=Path, required=True, help="where to write ca.pem, ca.key, server.pem, server.key")
    p.add_argument("--station", required=True, help="the station's name, shown in the certificates")
    p.add_argument(
        "--host",
        action="append",
        default=[],
        help="a host name or IP address terminals connect to (repeat; localhost and 127.0.0.1 are always in)",
    )
    p.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help=f"server certificate lifetime (default {DEFAULT_DAYS})"
    )
    p.add_argument(
        "--force", action="store_true", help="replace an existing station CA (every terminal then needs the new ca.pem)"
    )
    p.add_argument(
        "--offline", action="store_true", help="keep the CA's private key off the server: write it to --out, not --dir"
    )
    p.add_argument(
        "--out", type=Path, help="with --offline: where the CA's key and certificate go (removable media; take it away)"
    )
    p.set_defaults(run=_init)

    p = certs.add_parser(
        "client", help="issue a client certificate for a device (for keyun serve --require-client-cert)"
    )
    p.add_argument("--dir", type=Path, required=True, help="a directory made by keyun certs init")
    p.add_argument("--name", required=True, help="the device's name, e.g. counter-3 or gate-G1")
    p.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"certificate lifetime (default {DEFAULT_DAYS})")
    p.add_argument("--force", action="store_true", help="replace this device's existing certificate")
    p.set_defaults(run=_client)


def run(args: argparse.Namespace) -> int:
    try:
        args.run(args)
    except TlsError as error:
        print(f"keyun certs {args.action}: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"keyun certs {args.action}: {error.filename}: {error.strerror}", file=sys.stderr)
        return 1
    return 0


def _init(args: argparse.Namespace) -> None:
    if args.offline != (args.out is not None):
        raise TlsError(
            "--offline and --out go together: --offline --out DIR writes the CA's key to DIR, off the server"
        )
    paths = init_station_certs(args.dir, args.station, args.host, args.days, args.force, args.out)
    hosts = ", ".join(_san_text(paths.server_cert))
    if args.offline:
        print(
            f"offline station CA: {args.out / CA_CERT} (key {paths.ca_key}): take {args.out} off the server and keep "
            "it offline"
        )
        print(f"device certificates: keyun certs client --dir {args.out} --name NAME, where {args.out} is kept")
    print(f"station CA:         {paths.ca_cert}" + ("" if args.offline else f" (key {paths.ca_key}, keep it private)"))
    print(f"server certificate: {paths.server_cert} for {hosts} (key {paths.server_key})")
    print(f"give terminals {paths.ca_cert} (keyun counter ... --ca {paths.ca_cert}, or KEYUN_CA)")
    print(f"serve with: keyun serve --tls-dir {paths.directory} [--require-client-cert]")


def _client(args: argparse.Namespace) -> None:
    cert_path, key_path = issue_client_cert(args.dir, args.name, args.days, args.force)
    print(f"device certificate for {args.name}: {cert_path}")
    print(f"device key: {key_path} (copy it to that device only)")
    print(
        f"on the device: --ca {args.dir / CA_CERT} --cert {cert_path.name} --key {key_path.name} (or KEYUN_CA, "
        "KEYUN_CERT, KEYUN_KEY)"
    )


def _san_text(cert_path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [*names.get_values_for_type(x509.DNSName), *(str(a) for a in names.get_values_for_type(x509.IPAddress))]
