"""numpy arrays given to an experiment: written only into a directory the call makes (never into an
existing run), and removed again when the command fails."""
import os
from pathlib import Path

import numpy as np
import pytest

import widenet

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 3))
Y = np.sign(X[:, 0])
# Every experiment that reads arrays, at the smallest size it runs at.
CASES = {
    "train": dict(x=X, y=Y, width=64, steps=2, backend="cpu"),
    "gram": dict(x=X, backend="cpu"),
    "mfld": dict(task="file", x=X, y=Y, particles=64, steps=2, backend="cpu"),
    "saddle": dict(x=X, y=RNG.standard_normal((16, 2)), hidden=4, steps=2, backend="cpu"),
    "sweep": dict(x=X, y=Y, widths=[32, 64], steps=2, backend="cpu"),
    "resnet": dict(experiment="train", task="file", x=X, y=Y, steps=2, test_size=4, width=4, depth=2, backend="cpu"),
}


def files(root: Path) -> dict:
    """{relative path: bytes} of every file under root."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def with_nan(kw: dict) -> dict:
    x = kw["x"].copy()
    x[0, 0] = np.nan
    return dict(kw, x=x)


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_finished_run_is_never_written_into(command, tmp_path):
    out = tmp_path / "run"
    widenet.run(command, out=out, progress="none", **CASES[command])
    before = files(out)
    assert "inputs/x.npy" in before
    with pytest.raises(widenet.WideNetError, match="already holds a run") as e:
        widenet.run(command, out=out, progress="none", **dict(CASES[command], x=X * 100))
    assert e.value.exit_code == 65
    assert files(out) == before, "the finished run's files changed"


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_failed_call_leaves_nothing(command, tmp_path):
    # Without out=: the runs/<command>-<time> made for the arrays goes again (the tests run in tmp_path).
    with pytest.raises(widenet.WideNetError, match="(?i)non-finite|not finite") as e:
        widenet.run(command, progress="none", **with_nan(CASES[command]))
    assert e.value.exit_code == 65
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
    # A new out= and the directories made on the way to it go too.
    with pytest.raises(widenet.WideNetError, match="(?i)non-finite|not finite"):
        widenet.run(command, out=tmp_path / "new" / "run", progress="none", **with_nan(CASES[command]))
    assert not (tmp_path / "new").exists()


def test_an_empty_out_directory_takes_the_inputs_and_is_left_empty_on_failure(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    with pytest.raises(widenet.WideNetError, match="(?i)non-finite|not finite"):
        widenet.train(out=out, progress="none", **with_nan(CASES["train"]))
    assert out.is_dir() and os.listdir(out) == []
    run = widenet.train(out=out, progress="none", **CASES["train"])
    assert run.summary["status"] == "complete"
    assert np.array_equal(np.load(out / "inputs" / "x.npy"), X) and run.config["x"] == str(out / "inputs" / "x.npy")


def test_a_directory_holding_files_is_not_written_into(tmp_path):
    out = tmp_path / "mine"
    (out / "inputs").mkdir(parents=True)
    np.save(out / "inputs" / "x.npy", np.zeros(3))
    before = files(out)
    with pytest.raises(widenet.WideNetError, match="not empty") as e:
        widenet.train(out=out, progress="none", **CASES["train"])
    assert e.value.exit_code == 65
    assert files(out) == before


def test_a_diverged_run_keeps_its_inputs(tmp_path):
    """A run the CLI leaves behind (diverged, resumable) keeps the inputs its config.json names."""
    out = tmp_path / "div"
    with pytest.raises(widenet.WideNetError):
        widenet.train(out=out, lr=1e6, progress="none", **dict(CASES["train"], steps=50))
    assert (out / "config.json").exists() and (out / "inputs" / "x.npy").exists()


def test_complex_and_text_arrays_are_refused_before_anything_is_made(tmp_path):
    out = tmp_path / "run"
    for bad in (X.astype(np.complex128), X.astype(str)):
        with pytest.raises(TypeError, match="real arrays"):
            widenet.train(x=bad, y=Y, width=64, steps=2, backend="cpu", out=out, progress="none")
        assert not out.exists()

