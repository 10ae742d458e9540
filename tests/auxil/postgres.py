"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, started on a
free loopback port, stopped at the end. Needs the server binaries (Debian: postgresql).

initdb refuses to run as root, so under root the server runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import psycopg


def find_bin_dir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    def __init__(self, base: Path) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self._bin = bin_dir
        self._base = base
        self._data = base / "data"
        self.port = _free_port()
        self._run_as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(base, user.pw_uid, user.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self._run_as, *args], check=True, capture_output=True, text=True, timeout=120
        )

    def start(self) -> None:
        self._run(
            str(self._bin / "initdb"),
            "-D", str(self._data),
            "-U", "gridbot",
            "--auth=trust",
            "-E", "UTF8",
            "--locale=C",
        )  # fmt: skip
        # Test-only settings: durability is not what these tests measure.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            str(self._bin / "pg_ctl"),
            "-D", str(self._data),
            "-o", options,
            "-l", str(self._base / "server.log"),
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        if self._data.exists():
            pg_ctl = str(self._bin / "pg_ctl")
            subprocess.run(
                [*self._run_as, pg_ctl, "-D", str(self._data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://gridbot@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=gridbot dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=gridbot dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
