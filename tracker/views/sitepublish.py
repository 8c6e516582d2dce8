"""Publish a folder in one step: the new site is written beside OUT and swapped in, so a web
server (or a person) reading OUT sees the old site or the new one, never half of either.

On Linux the swap is one renameat2(RENAME_EXCHANGE): OUT is never missing, not even for an
instant, and the old site stays whole until it is swapped out. Where that call is missing (other
systems, a file system without it) two renames do it, and OUT is absent between them for
microseconds. The old site is removed only after the swap; a failed write leaves OUT as it was.

OUT must be new, empty, or a site this module wrote (it holds MARKER): `tracker site ~` must not
replace a home folder.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracker.errors import InputError

MARKER = ".tracker-site"
AT_FDCWD = -100
RENAME_EXCHANGE = 2


def publish(out: Path, fill: Callable[[Path], dict[str, int]], stamp: dict[str, Any]) -> dict[str, int]:
    """Make a fresh folder beside `out`, let `fill` write the site into it, mark it, and swap it
    in for `out`. Returns what `fill` returned."""
    out = _target(Path(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    new = out.parent / f".{out.name}.new-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(new)  # the umask's permissions, as any folder a web server is to read
    try:
        counts = fill(new)
        (new / MARKER).write_text(json.dumps({**stamp, **counts}, sort_keys=True) + "\n", encoding="utf-8")
        old = _swap(new, out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return counts


def _target(out: Path) -> Path:
    """The real folder to replace, refused when it holds something other than a site."""
    out = Path(os.path.abspath(out))
    if out.is_symlink():
        out = out.resolve()  # replace what the link points at, and keep the link
    if not out.exists():
        return out
    if not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; choose a folder for the site")
    if not (out / MARKER).is_file() and any(out.iterdir()):
        raise InputError(f"{out}: the folder is not empty and was not written by tracker site (it has no {MARKER}); "
                         "choose a new or empty folder")
    return out


def _swap(new: Path, out: Path) -> Path | None:
    """Put `new` at `out`; returns where the previous `out` now is (to remove), or None."""
    if not out.exists():
        try:
            os.rename(new, out)
            return None
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # made meanwhile by someone else: fall through to a swap
    if _exchange(new, out):
        return new
    aside = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(out, aside)
    os.rename(new, out)
    return aside


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 with RENAME_EXCHANGE); False where the system
    or the file system does not offer it."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))
