"""Starting Ray for the server: an embedded Ray on loopback with a token of Keyun's own, or a cluster.

Whoever can reach a Ray process and present the cluster's token can run code as the server.  So
the embedded Ray (`keyun serve` without `--ray-address`) is kept to this machine's loopback
interface and to the people who can read the station's key directory:

- Every Ray process binds to the node's address, and Ray's servers listen on loopback only when
  that address is a loopback one.  Ray picks a node's address when `ray._private.ray_constants`
  is imported: on macOS and Windows it takes loopback (a single-node Ray), on Linux the address
  that reaches the outside.  `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` asks for the single-node
  choice everywhere; Ray is already imported here, so its constant is set too.  Every Ray process
  started from here inherits the variable.  After `ray.init`, the node's address is checked, so a
  Ray that ignores the setting stops the start instead of listening on every interface.
- Ray's token authentication (`RAY_AUTH_MODE=token`, Ray 2.52 or newer) is turned on explicitly,
  with a token kept in the key directory (`KEYDIR/ray-auth-token`, mode 0600, made on the first
  start), never the user's `~/.ray/auth_token`, which every Ray cluster of the user shares.
- `address="local"` always starts a new Ray: without it, `ray.init` joins a cluster that a
  `ray start` on this machine left behind, or the one `RAY_ADDRESS` names.

With `--ray-address`, the cluster's operator sets its authentication in the environment
(`RAY_AUTH_MODE=token` and `RAY_AUTH_TOKEN_PATH`, docs/deployment.md), and Keyun joins as told.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from pathlib import Path

import ray
from ray._private import ray_constants

from keyun.persistence.keyring import check_private, init_key_dir, write_atomically

log = logging.getLogger("keyun.gateway")

# Every owner actor lives in this Ray namespace, where gateways and owners find one another by name.
RAY_NAMESPACE = "keyun"

# The object store only carries small batches; Ray's default reserves 30 % of RAM for it.
OBJECT_STORE_BYTES = 256 * 1024 * 1024

# The embedded Ray's token, in the key directory beside the station's other secrets.
RAY_TOKEN_FILE = "ray-auth-token"
# 32 random bytes as hex: as strong as the station's other keys, and printable, as Ray reads it.
RAY_TOKEN_BYTES = 32
# Ray's own names (docs.ray.io, "Ray token authentication"); the mode must come from the environment.
AUTH_MODE_ENV = "RAY_AUTH_MODE"
AUTH_TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
AUTH_TOKEN_ENV = "RAY_AUTH_TOKEN"  # takes precedence over the path, so the embedded Ray drops it
SINGLE_NODE_ENV = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR


class RayExposed(RuntimeError):
    """The embedded Ray came up on an address other than loopback; it has been shut down."""


def start_ray(key_dir: Path, address: str | None = None, cpus: int | None = None) -> None:
    """Join the Ray cluster at `address`, or start an embedded one on loopback, sized for a small
    machine, authenticated with the token in `key_dir` (made there on first use)."""
    if ray.is_initialized():
        return
    if address:
        join_ray(address)
        return
    use_token(ray_token_file(key_dir))
    stay_on_loopback()
    ray.init(
        address="local",
        num_cpus=cpus,
        include_dashboard=False,
        object_store_memory=OBJECT_STORE_BYTES,
        logging_level=logging.WARNING,
        log_to_driver=False,
        namespace=RAY_NAMESPACE,
    )
    check_on_loopback()


def join_ray(address: str) -> None:
    if os.environ.get(AUTH_MODE_ENV, "").lower() != "token":
        log.warning(
            "joining the Ray cluster at %s without token authentication: set %s=token and %s (docs/deployment.md)",
            address,
            AUTH_MODE_ENV,
            AUTH_TOKEN_PATH_ENV,
        )
    ray.init(address=address, namespace=RAY_NAMESPACE, logging_level=logging.WARNING, log_to_driver=False)


def ray_token_file(key_dir: Path) -> Path:
    """The embedded Ray's token file in `key_dir`, made (mode 0600) on first use; refused if other
    users of the machine can read it."""
    init_key_dir(key_dir)
    path = key_dir / RAY_TOKEN_FILE
    if not path.exists():
        write_atomically(path, secrets.token_hex(RAY_TOKEN_BYTES).encode())
        log.info("made the embedded Ray's token in %s", path)
    check_private(path, "chmod 600")
    return path


def use_token(path: Path) -> None:
    """Turn Ray's token authentication on with the token in `path`, for this process and every
    process it starts."""
    os.environ[AUTH_MODE_ENV] = "token"
    os.environ[AUTH_TOKEN_PATH_ENV] = str(path)
    os.environ.pop(AUTH_TOKEN_ENV, None)
    # Ray read its configuration from the environment when it was imported; read it again, as
    # Ray itself does when it turns token authentication on for a new local cluster.
    ray._raylet.Config.initialize("")


def stay_on_loopback() -> None:
    """Make Ray choose a loopback address for this node, in this process and the ones it starts."""
    os.environ[SINGLE_NODE_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def check_on_loopback() -> None:
    node_address = ray.util.get_node_ip_address()
    if not ipaddress.ip_address(node_address).is_loopback:
        ray.shutdown()
        raise RayExposed(
            f"the embedded Ray took the address {node_address}, not loopback; it was stopped so that it does not "
            "listen on the network"
        )


def cluster_address() -> str:
    """The address of the Ray cluster this process joined, for more gateway processes to join."""
    return ray.get_runtime_context().gcs_address
