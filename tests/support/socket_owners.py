"""Which process holds the server end of a loopback TCP connection, read from /proc (Linux):
tells which of `serve --workers N`'s processes a client's connection landed on."""

from __future__ import annotations

import os
from pathlib import Path


def connection_owner(server_port: int, client_port: int) -> int | None:
    """The pid holding the socket whose local port is `server_port` and remote port is
    `client_port` (IPv4 or IPv6 tables), or None when no process holds it."""
    inode = _server_side_inode(server_port, client_port)
    if inode is None:
        return None
    link = f"socket:[{inode}]"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            descriptors = list((entry / "fd").iterdir())
        except OSError:
            continue  # gone, or not ours
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) == link:
                    return int(entry.name)
            except OSError:
                continue
    return None


def _server_side_inode(server_port: int, client_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if (local_port, remote_port) == (server_port, client_port):
                return fields[9]
    return None
