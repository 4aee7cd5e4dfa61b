"""A real ``custodian serve --demo`` for the whole test session.

The binary is ``$CUSTODIAN_BIN``, else the workspace's debug build
(``${CARGO_TARGET_DIR:-target}/debug/custodian``). The demo keeps its SQLite
database, pepper and admin key in a temporary folder, and loads every
module's demo data, so each test talks to the server exactly as a user
would. Tests make their own rows with unique names, so they do not depend
on each other's order.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from custodian_client import Client

ROOT = Path(__file__).resolve().parents[3]


def binary() -> Path:
    explicit = os.environ.get("CUSTODIAN_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "custodian"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    base_url: str
    admin_key: str
    database_url: str
    bin: Path

    def create_key(self, role: str) -> str:
        """A new API key with ``role`` (``custodian keys create`` on the server's database)."""
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        out = subprocess.run(
            [str(self.bin), "--database-url", self.database_url, "keys", "create", "--role", role, "--name", name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        keys = [word for word in out.split() if word.startswith("cus_")]
        assert keys, out
        return keys[0]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    bin_path = binary()
    if not bin_path.is_file():
        pytest.exit(f"no custodian binary at {bin_path}: build it (cargo build -p custodian-cli) or set CUSTODIAN_BIN", 2)
    demo = tmp_path_factory.mktemp("custodian") / "demo"
    port = free_port()
    log_path = demo.parent / "server.log"
    with open(log_path, "w") as log:
        yield from _serve(bin_path, demo, port, log)


def _serve(bin_path: Path, demo: Path, port: int, log: IO[str]) -> Iterator[Server]:
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(bin_path), "serve", "--demo", "--demo-dir", str(demo), "--bind", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=demo.parent,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.exit(f"custodian serve stopped: {(demo.parent / 'server.log').read_text()[-2000:]}", 2)
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.exit("custodian serve was not ready after 120 s", 2)
            time.sleep(0.2)
        key = (demo / "admin.key").read_text().strip()
        yield Server(base, key, f"sqlite://{demo / 'custodian.db'}", bin_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.base_url, server.admin_key) as c:
        yield c


@pytest.fixture
def unique() -> str:
    """A short unique suffix for names that must not collide between tests."""
    return uuid.uuid4().hex[:10]
