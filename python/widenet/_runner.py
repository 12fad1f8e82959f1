"""Running one widenet command: arguments from keywords, arrays written as .npy, progress from the
CLI's JSON progress lines, errors as exceptions, Ctrl-C forwarded to the binary."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional, Union

import numpy as np

from ._binary import find_binary
from ._inputs import InputFolder, OutNotUsable
from ._options import build_arguments, command_table, unknown_keyword
from ._run import Run


class WideNetError(RuntimeError):
    """The binary failed: `message` is its one-line `error: …`, `exit_code` its status (64 usage,
    65 bad input, 69 resources, 128 + a signal), `stderr` all it wrote there."""

    def __init__(self, message: str, exit_code: int, command: List[str], stderr: str):
        self.message, self.exit_code, self.command, self.stderr = message, exit_code, command, stderr
        super().__init__(f"{message} (exit code {exit_code})")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C reached the binary, which wrote a checkpoint and stopped: `run` is the directory,
    `run.resume()` continues it. Raised as a KeyboardInterrupt."""

    def __init__(self, run: Optional[Run], message: str, exit_code: int):
        self.run, self.message, self.exit_code = run, message, exit_code
        super().__init__(message)


ProgressArg = Union[None, bool, str, Callable[[dict], None]]


class _Lines:
    """One line redrawn in place (carriage return), which terminals and notebooks both show."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.width = 0

    def __call__(self, p: dict) -> None:
        step, total = p.get("step", 0), max(p.get("total", 1), 1)
        if "member" in p:
            line = f"{p.get('progress', '')}: {step}/{total} members ({100 * step // total}%)  last {p['member']}: {p.get('text', '')}"
        else:
            line = f"{p.get('progress', '')}: {step}/{total} ({100 * step // total}%)  {p.get('steps_per_second', 0):.4g} steps/s"
        eta = p.get("eta_s")
        if p.get("final") and "elapsed_s" in p:
            line += f"  {p['elapsed_s']:.1f}s in all"
        elif eta is not None:
            line += f"  ETA {eta:.0f}s"
        if p.get("loss") is not None and "member" not in p:
            line += f"  loss {p['loss']:.4e}"
        pad = " " * max(self.width - len(line), 0)
        self.width = len(line)
        self.stream.write("\r" + line + pad + ("\n" if p.get("final") else ""))
        if p.get("final"):
            self.width = 0
        self.stream.flush()

    def close(self) -> None:
        if self.width:
            self.stream.write("\n")
            self.stream.flush()


class _Tqdm:
    def __init__(self, tqdm):
        self.tqdm, self.bars = tqdm, {}

    def __call__(self, p: dict) -> None:
        label = p.get("progress", "")
        bar = self.bars.get(label)
        if bar is None or bar.total != p.get("total"):
            if bar is not None:
                bar.close()
            bar = self.bars[label] = self.tqdm(total=p.get("total"), desc=label,
                                               unit="member" if "member" in p else "step")
        bar.update(p.get("step", 0) - bar.n)
        if p.get("loss") is not None:
            bar.set_postfix(loss=f"{p['loss']:.3e}", refresh=False)
        if p.get("final"):
            bar.close()
            del self.bars[label]

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


def _progress_handler(progress: ProgressArg):
    """auto/True: tqdm when installed, else a line; "tqdm"; "lines"; "none"/False; or a callable
    that receives each JSON progress object."""
    if progress is None or progress is True:
        progress = "auto"
    if progress is False or progress == "none":
        return None
    if callable(progress):
        return progress
    if progress in ("auto", "tqdm"):
        try:
            from tqdm.auto import tqdm
            return _Tqdm(tqdm)
        except ImportError:
            if progress == "tqdm":
                raise
        return _Lines()
    if progress == "lines":
        return _Lines()
    raise ValueError(f"progress={progress!r}: expected 'auto', 'tqdm', 'lines', 'none', a bool or a callable")


def run_command(command: str, kwargs: dict, *, progress: ProgressArg = None, binary=None) -> Run:
    """Runs `widenet <command>` with `kwargs` as its options and returns the run directory."""
    exe = find_binary(binary)
    table = command_table(exe)
    if command not in table:
        raise ValueError(f"this widenet ({exe}) has no subcommand {command!r}; it has: {', '.join(sorted(table))}")
    options = table[command]
    for k in kwargs:
        if k.replace("-", "_") not in options or k in ("json", "progress"):
            raise unknown_keyword(command, k, options)
    kwargs = {k.replace("-", "_"): v for k, v in kwargs.items()}

    out = kwargs.get("out")
    if out is not None:
        kwargs["out"] = str(Path(out).resolve())
    # The arrays go to <run>/inputs/ of a run directory this call makes (a run reads them again when
    # resumed), or to a temporary folder for a command without --out (and beside --resume).
    persistent = "out" in options and kwargs.get("resume") is None
    inputs = InputFolder(command, Path(kwargs["out"]) if out is not None else None, persistent)

    argv = [str(exe), command]
    try:
        try:
            args = build_arguments(command, options, kwargs, inputs.write)
        except OutNotUsable as e:
            raise WideNetError(str(e), 65, argv, "") from None
        if inputs.folder is not None and persistent and out is None:
            # The run directory this call made for the arrays: the CLI's --out.
            kwargs["out"] = str(inputs.out)
            args.append(f"--out={inputs.out}")
        quiet = bool(kwargs.get("quiet"))
        handler = None if quiet else _progress_handler(progress)
        argv += args
        if "json" in options:
            argv.append("--json")
        if "progress" in options:
            argv.append("--progress=json" if handler else "--progress=none")
        run = _execute(argv, handler, kwargs.get("out") or kwargs.get("resume"), exe, command)
    except BaseException:
        inputs.discard()
        raise
    inputs.finish()
    return run


_RESUME_HINT = re.compile(r"--resume (\S+?)`")
# A sweep's line per finished member (its members run quietly, so it has no JSON progress):
# "width 2048 (1/2): loss 1.685e-11, max movement 0.5172, …, 0.7 s".
_MEMBER_LINE = re.compile(r"^(?P<member>[^()\n]+?) \((?P<done>\d+)/(?P<total>\d+)\): (?P<text>.*)$")
_LOSS = re.compile(r"\bloss (?P<loss>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def member_progress(line: str, command: str) -> Optional[dict]:
    """A sweep's plain-text member line as a progress object like the JSON ones, else None."""
    if line.startswith(("note:", "error:", "warning:")):
        return None
    m = _MEMBER_LINE.match(line.rstrip("\n"))
    if not m:
        return None
    done, total = int(m["done"]), int(m["total"])
    loss = _LOSS.search(m["text"])
    return {"progress": command, "step": done, "total": total, "member": m["member"].strip(),
            "text": m["text"], "loss": float(loss["loss"]) if loss else None, "final": done == total}


def _execute(argv: List[str], handler, directory: Optional[str], exe: Path, command: str = "") -> Run:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", errors="replace",
                            start_new_session=True)  # Ctrl-C reaches Python only; it forwards one SIGINT
    err_lines: List[str] = []
    stdout_parts: List[str] = []

    def read_stderr():
        for line in proc.stderr:
            if line.startswith('{"progress"') and handler is not None:
                try:
                    handler(json.loads(line))
                    continue
                except ValueError:
                    pass
            if handler is not None:
                p = member_progress(line, command)
                if p is not None:
                    handler(p)
                    continue
            err_lines.append(line)
            if not line.startswith(("error:", "note:")):
                sys.stderr.write(line)

    def read_stdout():
        stdout_parts.append(proc.stdout.read())

    threads = [threading.Thread(target=read_stderr, daemon=True), threading.Thread(target=read_stdout, daemon=True)]
    for t in threads:
        t.start()
    interrupted = False
    # SIGTERM to this process (a job scheduler, `kill`) goes to the binary too, which checkpoints
    # and exits 143; the call then raises Interrupted like Ctrl-C. Handlers live in the main thread only.
    terminated = []
    previous_term = None
    if threading.current_thread() is threading.main_thread():
        def forward_term(signum, frame):
            terminated.append(signum)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        previous_term = signal.signal(signal.SIGTERM, forward_term)
    try:
        while True:
            try:
                while proc.poll() is None:
                    time.sleep(0.05)
                break
            except KeyboardInterrupt:
                # First Ctrl-C: the binary checkpoints at the end of its step and exits; a second
                # one is forwarded too (the binary then exits at once).
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                interrupted = True
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in threads:
            t.join(timeout=5)
        for stream in (proc.stdout, proc.stderr):   # the pipes, or Python warns of unclosed files
            if stream is not None:
                stream.close()
        if hasattr(handler, "close"):
            handler.close()

    code = proc.returncode
    stderr = "".join(err_lines)
    stdout = "".join(stdout_parts)
    notes = [l[len("note: "):].strip() for l in err_lines if l.startswith("note: ")]
    errors = [l[len("error: "):].strip() for l in err_lines if l.startswith("error: ")]
    stopped = interrupted or bool(terminated) or code in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    if stopped:
        # The continuation is named on a note (a checkpoint written) or on the error line (a sweep
        # stopped between members).
        hint = next((m.group(1) for n in notes + errors for m in [_RESUME_HINT.search(n)] if m), None)
        where = hint or directory
        run = None
        if where and (Path(where) / "config.json").exists():
            run = Run(where, binary=exe)
        by = {128 + signal.SIGINT: "SIGINT", 128 + signal.SIGTERM: "SIGTERM"}.get(code)
        fallback = f"widenet was stopped by {by} (exit code {code})" if by else f"widenet exited with code {code}"
        message = (errors or [n for n in notes if "interrupt" in n or "terminat" in n] or [fallback])[-1]
        raise Interrupted(run, message, code)
    if code != 0:
        message = errors[-1] if errors else (stderr.strip().splitlines() or [f"widenet exited with code {code}"])[-1]
        raise WideNetError(message, code, argv, stderr)
    where = directory
    try:
        summary = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
        where = summary.get("run_directory", where)
    except ValueError:
        m = re.search(r"run directory: (.+)", stdout)
        where = m.group(1).strip() if m else where
    if where is None:
        raise WideNetError("widenet finished without naming its run directory", code, argv, stderr)
    return Run(where, binary=exe)
