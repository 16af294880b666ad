"""Model files on disk: one read, atomic and durable writes.

``read_model_file`` opens the file once and takes the metadata and the
tensors from the same bytes, so a ``save`` landing meanwhile cannot pair the
description of one file with the weights of another.

``write_model_file`` writes a temporary file beside the target (``.<name>.
<pid>.<random>.tmp``), fsyncs it, renames it over the target and fsyncs the
folder (where the system allows it), so the file is whole or absent even
after a crash. It follows a symlink (the link's target is written, the link
stays a link) and keeps the mode of the file it replaces, or gives a new
file the mode the umask gives (``0o666 & ~umask``). A failure removes the
temporary file. Temporary files that a killed ``save`` left behind are
removed by a later ``save`` of the same path when they are stale: last
modified over a minute ago by a process that no longer runs on this machine
(POSIX; its pid is in the name), or over an hour ago whatever wrote them
(also the pid-less names of earlier versions). A save in progress touches
its file as it writes, so it is never taken for a stale one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import time
from pathlib import Path

from safetensors import SafetensorError

from .training.persistence import tensors_from_bytes, tensors_to_bytes

STALE_AFTER_S = 60.0
ABANDONED_AFTER_S = 3600.0

# First bytes of what is often mistaken for a model file: joblib's compressed
# files (an uncompressed joblib file is a pickle, told by its protocol byte).
_COMPRESSED_JOBLIB = {
    "zlib": (b"x\x01", b"x^", b"x\x9c", b"x\xda", b"ZF"),
    "gzip": (b"\x1f\x8b",),
    "bz2": (b"BZh",),
    "xz": (b"\xfd7zXZ\x00",),
    "lzma": (b"\x5d\x00\x00",),
    "lz4": (b"\x04\x22\x4d\x18",),
}


def _foreign_kind(data: bytes) -> str | None:
    """What a file that is no safetensors file looks like: a pickle, a joblib file."""
    if len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return "a pickle (or joblib) file"
    for method, magic in _COMPRESSED_JOBLIB.items():
        if data.startswith(magic):
            return f"a {method}-compressed joblib file"
    return None


def read_model_file(path: Path) -> tuple[dict[str, str], dict]:
    """The string metadata and the tensors of a weights file, from one open."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        tensors = tensors_from_bytes(data)
        size = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + size])
    except (SafetensorError, ValueError, RuntimeError, RecursionError) as exc:
        raise _unreadable(path, exc, data) from exc
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata or {}, tensors


def _unreadable(path: Path, exc: BaseException, data: bytes = b"") -> ValueError:
    kind = _foreign_kind(data)
    if kind is not None:
        return ValueError(
            f"{path} is not an sklearn-teracon model file: this looks like {kind}. "
            "Load it with joblib.load or pickle.load, and only from a source you "
            "trust (unpickling runs code); ContinualUserEncoder.load reads the "
            "files written by ContinualUserEncoder.save"
        )
    return ValueError(
        f"{path} is not a readable sklearn-teracon model file (corrupt or "
        f"truncated?): {exc}"
    )


def write_model_file(path: Path, tensors: dict, metadata: dict[str, str]) -> None:
    """Write ``tensors`` and string ``metadata`` to ``path``, atomically and durably."""
    data = tensors_to_bytes(tensors, metadata)
    target = Path(os.path.realpath(path))  # a symlink's target; the link stays
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the mode the umask gives
    _remove_stale_temporaries(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable, where folders can be opened (POSIX)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to fsync a folder
        pass
    finally:
        os.close(fd)


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporary files of ``target`` that a killed save left behind."""
    pattern = re.compile(
        rf"\.{re.escape(target.name)}\.(?:(\d+)\.[0-9a-f]{{8}}|[a-z0-9_]{{8}})\.tmp"
    )
    try:
        candidates = list(target.parent.iterdir())
    except OSError:
        return
    now = time.time()
    for candidate in candidates:
        match = pattern.fullmatch(candidate.name)
        if match is None:
            continue
        try:
            age = now - candidate.lstat().st_mtime
            pid = match.group(1)
            writer_gone = pid is not None and not _running(int(pid))
            if age > ABANDONED_AFTER_S or (age > STALE_AFTER_S and writer_gone):
                candidate.unlink()
        except OSError:  # removed meanwhile, or not ours to remove
            continue


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine; True when it cannot be told."""
    if os.name != "posix" or pid == os.getpid():
        return True  # (os.kill on Windows would end the process)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
