"""WideNet from Python: run the `widenet` experiments and read every run back as numpy and pandas.

    import widenet
    run = widenet.train(n=16, d=4, width=512, steps=100, backend="cpu")
    run.metrics            # a pandas DataFrame (a dict of numpy arrays without pandas)
    run.summary["final_loss"], run.arrays["u"], run.report

Every keyword is one of the subcommand's options (`init_w` for --init-w), read from the binary's
own help, so a new option needs no change here. Besides them: `progress=` ("auto", "tqdm",
"lines", "none" or a callable) and `binary=` (a path to the widenet binary).
"""
from __future__ import annotations

from functools import partial

from ._binary import BinaryNotFound, find_binary
from ._options import command_table
from ._run import Arrays, Run
from ._runner import Interrupted, WideNetError, run_command

__all__ = ["train", "sweep", "mfld", "saddle", "gram", "run", "Run", "Arrays", "options",
           "find_binary", "BinaryNotFound", "WideNetError", "Interrupted", "commands"]
__version__ = "0.1.0"


def run(command: str, *, progress=None, binary=None, **options) -> Run:
    """Runs `widenet <command>` with the keywords as its options; returns the Run."""
    return run_command(command, options, progress=progress, binary=binary)


def train(*, progress=None, binary=None, **options) -> Run:
    """`widenet train`: gradient descent on a wide two-layer ReLU net in the NTK regime."""
    return run_command("train", options, progress=progress, binary=binary)


def sweep(*, progress=None, binary=None, **options) -> Run:
    """`widenet sweep`: the train experiment at several widths (widths=[1024, 4096])."""
    return run_command("sweep", options, progress=progress, binary=binary)


def mfld(*, progress=None, binary=None, **options) -> Run:
    """`widenet mfld`: mean-field Langevin dynamics of a two-layer network's particles."""
    return run_command("mfld", options, progress=progress, binary=binary)


def saddle(*, progress=None, binary=None, **options) -> Run:
    """`widenet saddle`: plateaus and saddle-to-saddle dynamics from a small initialisation."""
    return run_command("saddle", options, progress=progress, binary=binary)


def gram(*, progress=None, binary=None, **options) -> Run:
    """`widenet gram`: the infinite-width NTK Gram matrix H∞ and its eigenvalues."""
    return run_command("gram", options, progress=progress, binary=binary)


def commands(binary=None) -> list:
    """The subcommands of the binary found."""
    return sorted(command_table(find_binary(binary)))


def options(command: str, binary=None) -> dict:
    """{keyword: Option} of a subcommand, as the binary's help dump lists them."""
    return dict(command_table(find_binary(binary))[command])


def __getattr__(name: str):
    """Later experiments the same way: widenet.<subcommand>(**options) for any subcommand that
    writes a run directory (takes --out)."""
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        table = command_table(find_binary())
    except Exception as e:  # no binary: say what is missing rather than a bare AttributeError
        raise AttributeError(f"module 'widenet' has no attribute {name!r} ({e})") from None
    command = name.replace("_", "-")
    if command in table and "out" in table[command]:
        return partial(run, command)
    raise AttributeError(f"module 'widenet' has no attribute {name!r}")
