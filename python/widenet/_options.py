"""The keyword table: every subcommand's options, read from the binary's own help dump
(`widenet --experimental-dump-help`) when first needed and cached per binary path and mtime."""
from __future__ import annotations

import difflib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

# Options the Python side supplies itself on every call.
MANAGED = {"json", "progress", "help", "version"}


@dataclass(frozen=True)
class Option:
    name: str            # the long name, e.g. "init-w"
    kind: str            # "flag" or "option" (or "positional")
    help: str
    repeating: bool
    default: Optional[str]
    values: Optional[Tuple[str, ...]]

    @property
    def keyword(self) -> str:
        return self.name.replace("-", "_")

    @property
    def takes_npy(self) -> bool:
        """An option naming a .npy file (--x, --y, --init-*): a numpy array is written for it."""
        return self.kind == "option" and ".npy" in self.help


_cache: Dict[Tuple[str, int], Dict[str, Dict[str, Option]]] = {}


def command_table(binary: Path) -> Dict[str, Dict[str, Option]]:
    """{subcommand: {keyword: Option}} from the binary's help dump."""
    st = os.stat(binary)
    key = (str(binary), st.st_mtime_ns)
    if key not in _cache:
        out = subprocess.run([str(binary), "--experimental-dump-help"], capture_output=True, text=True, check=True).stdout
        _cache[key] = parse_dump(json.loads(out))
    return _cache[key]


def parse_dump(dump: dict) -> Dict[str, Dict[str, Option]]:
    table: Dict[str, Dict[str, Option]] = {}
    for sub in dump["command"].get("subcommands", []):
        options: Dict[str, Option] = {}
        for a in sub.get("arguments", []):
            longs = [n["name"] for n in a.get("names", []) if n.get("kind") in ("long", "longWithSingleDash")]
            if a.get("kind") == "positional":
                name = a.get("valueName", "")
            elif longs:
                name = longs[0]
            else:
                continue
            opt = Option(name=name, kind=a.get("kind", "option"), help=a.get("abstract", ""),
                         repeating=bool(a.get("isRepeating")), default=a.get("defaultValue"),
                         values=tuple(a["allValues"]) if "allValues" in a else None)
            options[opt.keyword] = opt
        table[sub["commandName"]] = options
    return table


def _scalar(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def _is_list(value) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def unknown_keyword(command: str, keyword: str, options: Dict[str, Option]) -> TypeError:
    known = sorted(k for k in options if k not in MANAGED)
    close = difflib.get_close_matches(keyword, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
    return TypeError(f"widenet.{command}() got an unknown keyword argument {keyword!r}{hint}")


def build_arguments(command: str, options: Dict[str, Option], kwargs: dict,
                    write_array) -> List[str]:
    """The command line for `kwargs`: keyword init_w -> --init-w; True -> the flag; a list -> a
    comma list (or the option repeated, when the CLI repeats it); a numpy array for an option that
    reads a .npy -> the file `write_array(name, array)` returns. None and False are left out."""
    args: List[str] = []
    positionals: List[str] = []
    for keyword, value in kwargs.items():
        opt = options.get(keyword) or options.get(keyword.replace("-", "_"))
        if opt is None or opt.keyword in MANAGED:
            raise unknown_keyword(command, keyword, options)
        if value is None:
            continue
        flag = "--" + opt.name
        if opt.kind == "flag":
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"widenet.{command}(): {keyword} is a flag (--{opt.name}); pass True or False, not {value!r}")
            if value:
                args.append(flag)
            continue
        if isinstance(value, np.ndarray) and opt.takes_npy:
            value = write_array(opt.name, value)
        if opt.kind == "positional":
            positionals.extend(_scalar(v) for v in (value if _is_list(value) else [value]))
        elif _is_list(value):
            items = [_scalar(v) for v in np.asarray(value).ravel()] if isinstance(value, np.ndarray) else [_scalar(v) for v in value]
            if opt.repeating:
                args.extend(f"{flag}={v}" for v in items)
            else:
                args.append(f"{flag}={','.join(items)}")
        else:
            args.append(f"{flag}={_scalar(value)}")
    return args + positionals
