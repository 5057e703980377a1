"""Folders a run leaves when it is killed outright (SIGKILL, the out-of-memory killer):
named by their owner, and removed by a later run once the owner is gone.

A run that fails or is stopped cleans up after itself; one killed with no chance to
run its clean-up leaves its work folder in the system's temporary folder and the hidden
folder its outputs were staged in beside them. Their names carry the host and the
process that made them (``detector-HOST@PID.xxxx``, ``.staged.HOST@PID.xxxx``), as do
the half-written outputs beside them (``.NAME.HOST@PID.xxxx.tmp``), so that
a later run on the same host can tell a folder whose process is no longer running from
one a run still at work holds. A folder made on another host (a shared disk), by
another user, or changed in the last ``MIN_AGE`` seconds is never touched.
"""

import os
import re
import shutil
import socket
import stat
import time
from pathlib import Path

__all__ = ["owner_tag", "sweep_leftovers"]

_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
_LEFT = re.compile(r"^(?:detector-|\.staged\.)(?P<host>[A-Za-z0-9_.-]+)@(?P<pid>\d+)\.")
#: A half-written output of ``atomic_path`` or ``atomic_folder`` (``.NAME.HOST@PID.xxxx.tmp``,
#: a file or a folder): never a whole one, which is renamed into place before its run ends.
_TMP = re.compile(rf"^\..+\.(?P<host>{re.escape(_HOST)})@(?P<pid>\d+)\.[A-Za-z0-9_]*\.tmp$")


def owner_tag() -> str:
    """What a work or staging folder's name carries after its prefix: host and process."""
    return f"{_HOST}@{os.getpid()}."


#: A folder is left alone until it is this old (seconds since it last changed): a run
#: in another container that shares the host's name and the disk, but not its process
#: numbers, may still be at work in it.
MIN_AGE = 12 * 3600


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    except (OverflowError, ValueError):  # no process can have this number
        return False
    return True


def sweep_leftovers(folder: str | Path, min_age: float = MIN_AGE) -> int:
    """Remove from ``folder`` the work and staging folders of this host's runs that are
    no longer running, made by this user and unchanged for ``min_age`` seconds; returns
    how many were removed."""
    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        found = _LEFT.match(entry.name) or _TMP.match(entry.name)
        if not found or found["host"] != _HOST or found["pid"] == str(os.getpid()):
            continue
        try:
            info = entry.lstat()
        except OSError:
            continue
        # A link is never followed nor removed; a file only when it is a half output.
        half_file = stat.S_ISREG(info.st_mode) and found.re is _TMP
        if (
            not (stat.S_ISDIR(info.st_mode) or half_file)
            or info.st_uid != os.getuid()
            or now - info.st_mtime < min_age
            or _running(int(found["pid"]))
        ):
            continue
        if half_file:
            entry.unlink(missing_ok=True)
        else:
            shutil.rmtree(entry, ignore_errors=True)
        removed += not entry.exists()
    return removed
