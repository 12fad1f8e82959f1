"""A run directory read back: config, summary, metrics, arrays, report; a sweep's members."""
from __future__ import annotations

import json
import os
import re
import webbrowser
from collections.abc import Mapping
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import numpy as np


def _pandas():
    """pandas when installed (and not switched off by WIDENET_NO_PANDAS=1), else None."""
    if os.environ.get("WIDENET_NO_PANDAS") == "1":
        return None
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def read_jsonl(path: Path) -> List[dict]:
    rows = []
    if not path.exists():
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def _column(values: list) -> np.ndarray:
    """One column as numpy: numbers (missing and null as NaN), booleans, lists as a 2-D array
    (ragged rows padded with NaN), anything else as objects."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, list) for v in present):
        width = max(len(v) for v in present)
        out = np.full((len(values), width), np.nan)
        for i, v in enumerate(values):
            if v is not None:
                out[i, :len(v)] = [np.nan if x is None else x for x in v]
        return out
    if present and all(isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=bool)
        return np.array(values, dtype=object)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if present and all(isinstance(v, int) for v in present) and len(present) == len(values):
            return np.array(values, dtype=np.int64)
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.array(values, dtype=object)


def columns(rows: List[dict]) -> Dict[str, np.ndarray]:
    """Rows of JSON objects as {column: numpy array}, columns in first-seen order."""
    keys: List[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    return {k: _column([r.get(k) for r in rows]) for k in keys}


def table(rows: List[dict]):
    """A pandas DataFrame when pandas is installed (list columns hold one 1-D array per row),
    else the dict of numpy arrays of `columns`."""
    cols = columns(rows)
    pd = _pandas()
    if pd is None:
        return cols
    data = {k: (list(v) if v.ndim == 2 else v) for k, v in cols.items()}
    return pd.DataFrame(data, columns=list(cols))


class Arrays(Mapping):
    """Every .npy of a run directory by name (without .npy), each loaded on first access."""

    def __init__(self, directory: Path):
        self._directory = directory
        self._loaded: Dict[str, np.ndarray] = {}

    def _names(self) -> List[str]:
        return sorted(p.stem for p in self._directory.glob("*.npy"))

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._loaded:
            path = self._directory / f"{name}.npy"
            if not path.exists():
                raise KeyError(f"{name!r}: no {name}.npy in {self._directory} (has: {', '.join(self._names())})")
            self._loaded[name] = np.load(path)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @property
    def loaded(self) -> List[str]:
        """The names loaded so far."""
        return sorted(self._loaded)

    def __repr__(self) -> str:
        return f"Arrays({', '.join(self._names())})"


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


class Run:
    """A widenet run directory: `Run("runs/train-20261123-132439")`, and what every call returns."""

    def __init__(self, path, *, binary=None):
        self.path = Path(path).resolve()
        if not (self.path / "config.json").exists():
            raise FileNotFoundError(f"{self.path} is not a widenet run directory (no config.json)")
        self._binary = binary
        self.arrays = Arrays(self.path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, command={self.command!r}, status={self.status!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # Files

    @property
    def config(self) -> dict:
        return json.loads((self.path / "config.json").read_text())

    @property
    def summary(self) -> Optional[dict]:
        """summary.json, or None while the run has not finished (interrupted, running)."""
        p = self.path / "summary.json"
        return json.loads(p.read_text()) if p.exists() else None

    @property
    def command(self) -> str:
        return self.config.get("command", "")

    @property
    def status(self) -> str:
        s = self.summary
        if s is not None:
            return s.get("status", "complete")
        return "interrupted" if self.resumable else "incomplete"

    @property
    def resumable(self) -> bool:
        """A run that stopped before its end and can be continued by `resume()`."""
        if (self.path / "summary.json").exists():
            return False
        return (self.path / "checkpoint" / "state.json").exists() or self.is_sweep

    @property
    def rows(self) -> List[dict]:
        """metrics.jsonl as a list of dicts."""
        return read_jsonl(self.path / "metrics.jsonl")

    @property
    def metrics(self):
        """metrics.jsonl: a pandas DataFrame when pandas is installed, else a dict of numpy arrays
        (list-valued columns as 2-D arrays). A sweep's rows (one per member) carry `member`."""
        return table(self._rows_with_member())

    @property
    def metrics_arrays(self) -> Dict[str, np.ndarray]:
        """metrics.jsonl as a dict of numpy arrays, with or without pandas."""
        return columns(self._rows_with_member())

    def _rows_with_member(self) -> List[dict]:
        rows = self.rows
        if rows and all("member" in r for r in rows):   # the sweep names each row's member directory
            return rows
        if self.is_sweep:
            names = [m.path.name for m in self.members]
            if len(names) >= len(rows):
                rows = [{"member": n, **r} for n, r in zip(names, rows)]
        return rows

    @property
    def report(self) -> Path:
        """report.html (`open_report()` shows it in a browser)."""
        return self.path / "report.html"

    def open_report(self) -> bool:
        if not self.report.exists():
            raise FileNotFoundError(f"{self.report} does not exist (the run has not finished)")
        return webbrowser.open(self.report.as_uri())

    # Sweeps

    @property
    def is_sweep(self) -> bool:
        return any(True for _ in self._member_dirs())

    def _member_dirs(self):
        for p in self.path.iterdir():
            if p.is_dir() and p.name != "checkpoint" and (p / "config.json").exists():
                yield p

    @property
    def members(self) -> List["Run"]:
        """A sweep's member runs, in the order the sweep ran them (that of its metrics rows)."""
        dirs = sorted(self._member_dirs(), key=lambda p: ((p / "config.json").stat().st_mtime_ns, _natural(p.name)))
        named = [r.get("member") for r in self.rows]
        if named and all(named):   # the order the sweep's rows give, then any member not finished
            by_name = {p.name: p for p in dirs}
            dirs = [by_name[n] for n in named if n in by_name] + [p for p in dirs if p.name not in named]
        return [Run(p, binary=self._binary) for p in dirs]

    def member_table(self):
        """One tidy table across a sweep's members: every member's metrics rows, with `member`
        (its directory's name) and the settings that differ between members (width, seed, …)."""
        members = self.members
        configs = [m.config for m in members]
        varying = []
        for k in configs[0] if configs else []:
            if k in ("out", "command_line", "resolved"):
                continue
            vals = [c.get(k) for c in configs]
            if all(not isinstance(v, (dict, list)) for v in vals) and len({json.dumps(v) for v in vals}) > 1:
                varying.append(k)
        rows = []
        for m, c in zip(members, configs):
            fixed = {"member": m.path.name, **{k: c.get(k) for k in varying}}
            for r in m.rows:
                rows.append({**fixed, **{k: v for k, v in r.items() if k not in fixed}})
        return table(rows)

    # Continuing

    def resume(self, **kwargs) -> "Run":
        """Continue the run from its checkpoint (`widenet <command> --resume DIR`) into the same
        directory; returns it. Keywords: progress=, binary= (as for the experiments)."""
        from ._runner import run_command
        command = self.config.get("resume_command") or self.command
        kwargs.setdefault("binary", self._binary)
        return run_command(command, {"resume": str(self.path)}, **kwargs)
