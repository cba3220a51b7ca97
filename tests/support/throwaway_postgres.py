"""A PostgreSQL cluster of one test's own: `initdb` into a temporary directory and `pg_ctl`
on a spare loopback port, to stop and start for real. The shared server on 5432 is never
touched.

initdb and postgres refuse to run as root: as root, every command runs as the `postgres` OS
user (through `runuser`), which owns the directory; otherwise as the current user. The
cluster trusts every local connection and skips fsync (nothing here has to survive a crash
of the machine)."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NoReturn

from tests.support.server import free_port
from tests.support.services import missing

OS_USER = "postgres"
# initdb of an empty cluster takes about a second; a loaded 2-core machine may need far more.
INITDB_WITHIN = 60.0
PG_CTL_WITHIN = 30.0


def _bin_directory() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl, or what PATH has."""
    found = [
        candidate
        for candidate in Path("/usr/lib/postgresql").glob("*/bin")
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists()
    ]
    if found:
        return max(found, key=lambda path: int(path.parent.name.split(".")[0]))
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class ThrowawayPostgres:
    """One cluster in `root` (made by `throwaway_postgres`), served on `port` while started.
    `url` is the SQLAlchemy asyncpg URL of its `stockql` database."""

    def __init__(self, bin_directory: Path, root: Path, *, as_user: str | None) -> None:
        self._bin = bin_directory
        self._root = root
        self._data = root / "data"
        self._log = root / "postgres.log"
        self._as_user = as_user
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/stockql"
        self.running = False

    async def create(self) -> None:
        """initdb the cluster, start it and create the `stockql` database."""
        await self._run(
            "initdb",
            *("-D", str(self._data), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
            within=INITDB_WITHIN,
        )
        await self.start()
        await self._run(
            "createdb",
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "stockql"),
            within=PG_CTL_WITHIN,
        )

    async def start(self) -> None:
        """`pg_ctl start`, waiting until it accepts connections."""
        options = " ".join(
            (
                f"-c port={self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self._root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c shared_buffers=16MB",
                "-c max_connections=60",
            )
        )
        await self._pg_ctl("start", "-l", str(self._log), "-o", options)
        self.running = True

    async def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m mode`, waiting until the server is gone: "fast" ends every session
        (as an operator's restart does), "immediate" aborts like a crash."""
        await self._pg_ctl("stop", "-m", mode)
        self.running = False

    def log(self) -> str:
        try:
            return self._log.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"

    async def _pg_ctl(self, *arguments: str) -> None:
        await self._run("pg_ctl", "-D", str(self._data), "-w", *arguments, within=PG_CTL_WITHIN)

    async def _run(self, program: str, *arguments: str, within: float) -> None:
        command: Sequence[str] = [str(self._bin / program), *arguments]
        if self._as_user is not None:
            command = ["runuser", "-u", self._as_user, "--", *command]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=self._root,
        )
        try:
            async with asyncio.timeout(within):
                output, _ = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"{program} took more than {within} s") from None
        if process.returncode != 0:
            raise AssertionError(
                f"{program} exited with {process.returncode}:\n"
                f"{output.decode(errors='replace')}\n--- server log ---\n{self.log()}"
            )


def _unavailable(reason: str) -> NoReturn:
    missing(f"no throwaway PostgreSQL cluster: {reason}")


def _server_user() -> pwd.struct_passwd | None:
    """Whom initdb and postgres run as: the `postgres` OS user when we are root (whom they
    refuse), else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        _unavailable("running as root without `runuser`")
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        _unavailable(f"running as root and there is no `{OS_USER}` OS user")


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[ThrowawayPostgres]:
    """A created and started ThrowawayPostgres; on exit (failures too) stopped and deleted.
    Skips when PostgreSQL's server programs or the `postgres` OS user are missing (fails
    when STOCKQL_REQUIRE_SERVICES=1)."""
    bin_directory = _bin_directory()
    if bin_directory is None:
        _unavailable("initdb and pg_ctl are not installed")
    user = _server_user()
    # Not under pytest's tmp_path: its parents are private to root, and postgres must get in.
    root = Path(tempfile.mkdtemp(prefix="stockql-pg-"))
    try:
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster = ThrowawayPostgres(bin_directory, root, as_user=user.pw_name if user else None)
        try:
            await cluster.create()
            yield cluster
        except Exception as error:
            error.add_note(f"--- log of the throwaway PostgreSQL ---\n{cluster.log()[-6000:]}")
            raise
        finally:
            # Also after a failed start or stop: whatever postmaster is left goes.
            if (root / "data" / "postmaster.pid").exists():
                await cluster.stop("immediate")
    finally:
        shutil.rmtree(root, ignore_errors=True)
