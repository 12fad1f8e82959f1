"""Running experiments and reading their directories back."""
import io
import json

import numpy as np
import pytest

import widenet
from widenet import Run
from widenet._runner import _Lines
from conftest import TINY


@pytest.fixture(scope="module")
def train_run(tmp_path_factory):
    return widenet.train(steps=30, out=tmp_path_factory.mktemp("t") / "run", progress="none", **TINY)


def test_config_summary_metrics(train_run):
    run = Run(train_run.path)
    assert run.command == "train" and run.status == "complete" and not run.resumable
    assert run.config["width"] == 512 and run.config["steps"] == 30
    assert run.summary["steps_run"] == 30
    m = run.metrics_arrays
    assert m["step"].tolist() == list(range(31))
    assert m["loss"][-1] == pytest.approx(run.summary["final_loss"])
    assert np.isnan(m["lambda_min_h"][1])            # logged on the first and last rows only
    assert run.report.name == "report.html" and run.report.exists()


def test_metrics_as_dataframe(train_run):
    pd = pytest.importorskip("pandas", reason="pandas is installed by Scripts/test.sh; run there")
    df = train_run.metrics
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 31 and {"step", "loss", "bound"} <= set(df.columns)


def test_metrics_without_pandas(train_run, monkeypatch):
    monkeypatch.setenv("WIDENET_NO_PANDAS", "1")
    m = train_run.metrics
    assert isinstance(m, dict) and isinstance(m["loss"], np.ndarray) and m["loss"].shape == (31,)
    t = widenet.Run(train_run.path).members
    assert t == []


def test_arrays_are_lazy(train_run, monkeypatch):
    run = Run(train_run.path)
    loads = []
    real = np.load
    monkeypatch.setattr(np, "load", lambda p, *a, **k: loads.append(p) or real(p, *a, **k))
    assert {"u", "x", "y", "spectrum"} <= set(run.arrays)
    assert loads == [] and run.arrays.loaded == []
    assert run.arrays["u"].shape == (16,)
    assert len(loads) == 1 and run.arrays.loaded == ["u"]
    run.arrays["u"]
    assert len(loads) == 1
    with pytest.raises(KeyError, match="no w.npy"):
        run.arrays["w"]


def test_open_report(train_run, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    assert train_run.open_report() and opened == [train_run.report.as_uri()]


def test_numpy_inputs_written_and_used(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 4)), rng.uniform(-1, 1, 16)
    run = widenet.train(x=x, y=y, width=256, steps=5, backend="cpu", out=tmp_path / "r", progress="none")
    assert np.array_equal(np.load(run.path / "inputs" / "x.npy"), x)
    assert run.config["x"] == str(run.path / "inputs" / "x.npy")
    # The run's own x.npy is the data it trained on: the rows scaled to unit norm.
    assert np.allclose(run.arrays["x"], x / np.linalg.norm(x, axis=1, keepdims=True))
    assert np.array_equal(run.arrays["y"], y)
    assert run.summary["n"] == 16 and run.summary["d"] == 4


def test_numpy_inputs_without_out_go_to_a_new_default_directory():
    x = np.random.default_rng(2).standard_normal((8, 3))
    run = widenet.train(x=x, y=np.linspace(-1, 1, 8), width=128, steps=2, backend="cpu", progress="none")
    assert run.path.parent.name == "runs" and run.path.name.startswith("train-")
    assert (run.path / "inputs" / "x.npy").exists()


def test_cli_error_raises_with_message_and_exit_code():
    with pytest.raises(widenet.WideNetError) as e:
        widenet.train(steps=-3, progress="none", **TINY)
    assert e.value.message == "--steps must be ≥ 0 (got -3)" and e.value.exit_code == 65
    with pytest.raises(widenet.WideNetError) as e:
        widenet.train(backend="cpu", device="0", steps=1)
    assert e.value.exit_code == 64 and "--device 0" in e.value.message


def test_progress_lines_and_callable(tmp_path):
    seen = []
    widenet.train(steps=20, out=tmp_path / "a", progress=seen.append, **TINY)
    assert seen and seen[-1]["final"] and seen[-1]["step"] == 20 and seen[-1]["total"] == 20
    buf = io.StringIO()
    lines = _Lines(buf)
    for p in seen:
        lines(p)
    assert "train: 20/20 (100%)" in buf.getvalue() and buf.getvalue().endswith("\n")


def test_saddle_list_column_is_two_dimensional(tmp_path, monkeypatch):
    run = widenet.saddle(n=50, steps=40, log_every=10, out=tmp_path / "s", progress="none")
    sv = run.metrics_arrays["singular_values"]
    assert sv.shape == (5, 5) and sv.dtype == float
    monkeypatch.setenv("WIDENET_NO_PANDAS", "1")
    assert run.metrics["singular_values"].shape == (5, 5)
    assert run.arrays["losses"].ndim == 1


def test_gram():
    run = widenet.gram(n=8, d=3, backend="cpu", progress="none")
    assert run.command == "gram" and run.summary["status"] == "complete"


def test_sweep_members_and_tidy_table(tmp_path, monkeypatch):
    run = widenet.sweep(widths=[256, 512], seeds=2, n=8, d=3, steps=10, backend="cpu",
                        out=tmp_path / "sw", progress="none")
    names = [m.path.name for m in run.members]
    assert names == ["width-256-s0", "width-256-s1", "width-512-s0", "width-512-s1"]
    assert all(m.status == "complete" for m in run.members)
    rows = run.metrics_arrays
    assert rows["member"].tolist() == names and rows["width"].tolist() == [256, 256, 512, 512]
    monkeypatch.setenv("WIDENET_NO_PANDAS", "1")
    t = run.member_table()
    assert len(t["member"]) == 4 * 11
    assert set(t["width"].tolist()) == {256, 512} and set(t["seed"].tolist()) == {0, 1}
    assert t["loss"].shape == (44,)
    monkeypatch.delenv("WIDENET_NO_PANDAS")
    pd = pytest.importorskip("pandas", reason="pandas is installed by Scripts/test.sh; run there")
    df = run.member_table()
    assert isinstance(df, pd.DataFrame) and df.groupby("width")["member"].nunique().tolist() == [2, 2]


def test_mfld_with_numpy_initial_particles(tmp_path):
    init = np.random.default_rng(3).standard_normal((64, 5)) * 0.5
    run = widenet.mfld(init_particles=init, n=40, d=3, steps=10, backend="cpu", save_particles=True,
                       out=tmp_path / "m", progress="none")
    assert run.summary["status"] == "complete" and run.config["init_particles"].endswith("inputs/init-particles.npy")
    assert run.arrays["particles"].shape == (64, 5)
    assert run.metrics_arrays["step"][-1] == 10


def test_later_experiments_come_the_same_way(tmp_path):
    # widenet.resnet was never written by hand: the option table comes from the binary's help dump.
    run = widenet.resnet(experiment="boost", task="circles", steps=3, n=16, test_size=4, width=4, out=tmp_path / "boost",
                         progress="none")
    arrays = run.metrics_arrays
    assert list(arrays["blocks"]) == [0, 1, 2, 3] and arrays["layerwise_loss"].shape == (4,)
    assert run.summary["experiment"] == "boost" and run.arrays["boost_steps"].shape == (3,)
    with pytest.raises(TypeError, match="depth"):
        widenet.resnet(experiment="boost", dpeth=3)
