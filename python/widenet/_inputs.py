"""Where the numpy arrays passed to an experiment are written before the CLI reads them.

A run reads its input files again when it is resumed (config.json records their paths), so they live
in the run directory, `<run>/inputs/`. That is only ever a directory this call makes, or the
`inputs/` it makes inside an empty `out=`: an existing run, or any directory that holds files, is
never written into, so nothing a finished run recorded can be replaced. When the command fails
without leaving a run (no config.json or metrics.jsonl), everything the call made is removed again.
Commands that take no `out=` (and `resume=`) get a fresh temporary directory, removed after the call.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import List, Optional

import numpy as np

# What the CLI refuses to run over (RunDirectory: metrics.jsonl or config.json), and what a run left.
RUN_FILES = ("metrics.jsonl", "config.json")


class OutNotUsable(Exception):
    """`out=` cannot take the arrays: the message, for a WideNetError (exit code 65, as the CLI's)."""


def _make_parents(path: Path, made: List[Path]) -> None:
    """Creates the missing ancestors of `path` one mkdir at a time, recording each it made."""
    missing = []
    p = path.parent
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        try:
            p.mkdir()
            made.append(p)
        except FileExistsError:
            if not p.is_dir():
                raise OutNotUsable(f"out={path}: {p} exists and is not a directory")


def _describe_existing(path: Path) -> Optional[str]:
    """Why an existing `out=` cannot take the arrays; None for an empty directory."""
    if not path.is_dir():
        return f"out={path} exists and is not a directory"
    entries = sorted(os.listdir(path))
    if not entries:
        return None
    held = [f for f in RUN_FILES if f in entries]
    status = _status(path)
    if status in ("diverged", "failed"):
        return (f"out={path} holds a {status} run; the arrays given from Python are never written into an existing run "
                f"(the CLI would move it aside): choose another directory, or move it away first")
    if held:
        return (f"--out {path} already holds a run ({held[0]}); choose another directory "
                f"(the arrays given from Python are never written into an existing run)")
    return (f"out={path} is not empty ({entries[0]}{', …' if len(entries) > 1 else ''}); the arrays given from Python "
            f"go to <out>/inputs/, so out= must be a new or empty directory")


def _status(path: Path) -> Optional[str]:
    try:
        with open(path / "summary.json") as f:
            return json.load(f).get("status")
    except (OSError, ValueError, AttributeError):
        return None


class InputFolder:
    """The folder the arrays of one call go to, made on first use; `discard()` removes what was made."""

    def __init__(self, command: str, out: Optional[Path], persistent: bool):
        self.command, self.out, self.persistent = command, out, persistent
        self.folder: Optional[Path] = None
        self.made: List[Path] = []          # directories this call made, outermost first
        self.temporary: Optional[Path] = None

    @staticmethod
    def default_out(command: str, made: Optional[List[Path]] = None) -> Path:
        """runs/<command>-<time>, as the CLI names it, claimed by mkdir (-2, -3, … when taken)."""
        base = Path("runs").resolve() / f"{command}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        made = made if made is not None else []
        _make_parents(base, made)
        for k in range(1, 1000):
            p = base if k == 1 else base.with_name(f"{base.name}-{k}")
            try:
                p.mkdir()
                made.append(p)
                return p
            except FileExistsError:
                continue
        raise FileExistsError(f"{base}: every suffix up to -999 is taken")

    def _claim(self) -> Path:
        if not self.persistent:
            self.temporary = Path(tempfile.mkdtemp(prefix=f"widenet-{self.command}-inputs-"))
            return self.temporary
        if self.out is None:
            self.out = self.default_out(self.command, self.made)
        else:
            out = self.out
            try:
                _make_parents(out, self.made)
                out.mkdir()
                self.made.append(out)
            except FileExistsError:
                why = _describe_existing(out)
                if why:
                    raise OutNotUsable(why) from None
        inputs = self.out / "inputs"
        try:
            inputs.mkdir()                  # exclusive: never into an inputs/ that is there
        except FileExistsError:
            raise OutNotUsable(f"out={self.out}: {inputs} appeared while this call was writing its arrays") from None
        self.made.append(inputs)
        return inputs

    def write(self, name: str, array: np.ndarray) -> str:
        # Refused before anything is made: a cast to float64 would drop an imaginary part, or turn
        # strings and objects into an error from numpy instead of one naming the option.
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
            raise TypeError(f"{name}: widenet takes real arrays (float or integer), not {array.dtype}")
        if self.folder is None:
            self.folder = self._claim()
        dtype = np.float32 if array.dtype == np.float32 else np.float64
        path = self.folder / f"{name}.npy"
        with open(path, "xb") as f:          # exclusive: a file is never replaced
            np.save(f, np.ascontiguousarray(array, dtype=dtype))
        return str(path)

    def finish(self) -> None:
        """After a successful call: a temporary folder goes, a run's inputs stay."""
        self._remove_temporary()

    def discard(self) -> None:
        """After a failed call: removes what this call made, unless the CLI left a run in it (a diverged
        or interrupted run reads its inputs again when resumed)."""
        self._remove_temporary()
        if self.out is not None and any((self.out / f).exists() for f in RUN_FILES):
            return
        for p in reversed(self.made):
            if p == self.out or p.name == "inputs" and p.parent == self.out:
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    p.rmdir()               # an ancestor: only while empty
                except OSError:
                    pass
        self.made = []

    def _remove_temporary(self) -> None:
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None
