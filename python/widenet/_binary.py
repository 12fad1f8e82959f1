"""Finding the widenet binary: an explicit path, $WIDENET_BIN, PATH, then this checkout's release build."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterable, List, Mapping, Optional, Tuple


class BinaryNotFound(FileNotFoundError):
    """No usable widenet binary; `tried` lists every place looked at, with why it failed."""

    def __init__(self, tried: List[Tuple[str, str]]):
        self.tried = tried
        lines = "\n".join(f"  {where}: {why}" for where, why in tried)
        super().__init__(
            "no widenet binary found; tried, in order:\n" + lines
            + "\nPass binary=PATH, set WIDENET_BIN, put widenet on PATH, or build the checkout "
            "(swift build -c release)."
        )


def _usable(path: Path) -> Optional[str]:
    """None when `path` is an executable file, else why not."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    if not os.access(path, os.X_OK):
        return "is not executable"
    return None


def checkout_roots() -> List[Path]:
    """Checkouts whose .build/release/widenet may serve: the one this package was installed from
    (recorded at install), the one holding this package (in-tree use), and any above the current
    directory."""
    roots: List[Path] = []
    here = Path(__file__).resolve().parent
    recorded = here / "_checkout.json"
    if recorded.exists():
        try:
            roots.append(Path(json.loads(recorded.read_text())["root"]))
        except (ValueError, KeyError, OSError):
            pass
    for start in (here, Path.cwd().resolve()):
        for p in (start, *start.parents):
            if (p / "Package.swift").exists() and (p / "python").is_dir():
                roots.append(p)
                break
    unique: List[Path] = []
    for r in roots:
        if r not in unique:
            unique.append(r)
    return unique


def find_binary(
    binary: Optional[os.PathLike] = None,
    *,
    env: Optional[Mapping[str, str]] = None,
    search_path: Optional[str] = None,
    checkouts: Optional[Iterable[Path]] = None,
) -> Path:
    """The widenet binary to run. Order: `binary`, $WIDENET_BIN, `widenet` on PATH, then
    <checkout>/.build/release/widenet. An explicit path or $WIDENET_BIN that is unusable is an
    error at once (naming it), never silently passed over."""
    env = os.environ if env is None else env
    tried: List[Tuple[str, str]] = []
    if binary is not None:
        p = Path(binary).expanduser()
        why = _usable(p)
        if why is None:
            return p.resolve()
        raise BinaryNotFound([(f"binary={str(binary)!r}", why)])
    value = env.get("WIDENET_BIN")
    if value:
        p = Path(value).expanduser()
        why = _usable(p)
        if why is None:
            return p.resolve()
        raise BinaryNotFound([(f"$WIDENET_BIN={value}", why)])
    tried.append(("$WIDENET_BIN", "not set"))
    search = env.get("PATH", "") if search_path is None else search_path
    found = shutil.which("widenet", path=search)
    if found:
        return Path(found).resolve()
    tried.append(("widenet on PATH", f"not found in {search!r}"))
    roots = checkout_roots() if checkouts is None else list(checkouts)
    for root in roots:
        p = Path(root) / ".build" / "release" / "widenet"
        why = _usable(p)
        if why is None:
            return p.resolve()
        tried.append((str(p), why))
    if not roots:
        tried.append(("this checkout's .build/release/widenet", "no checkout known"))
    raise BinaryNotFound(tried)
