"""The keyword table read from the binary's help dump."""
import numpy as np
import pytest

import widenet
from widenet._options import build_arguments, command_table
from conftest import TINY


def test_table_from_help_dump_and_cached(binary):
    t = command_table(binary)
    assert {"train", "sweep", "mfld", "saddle", "gram"} <= set(t)
    assert t["train"]["init_w"].name == "init-w" and t["train"]["init_w"].takes_npy
    assert t["train"]["save_weights"].kind == "flag"
    assert command_table(binary) is t
    assert "lambda_ent" in widenet.options("mfld")


def test_keywords_to_arguments(binary):
    opts = command_table(binary)["sweep"]
    args = build_arguments("sweep", opts, dict(widths=[1024, 4096], steps=5, lr=0.5, train_output=True,
                                              spectrum=False, seed=None, kappa=np.float64(2)), None)
    assert args == ["--widths=1024,4096", "--steps=5", "--lr=0.5", "--train-output", "--kappa=2.0"]


def test_unknown_keyword_refused_by_name():
    with pytest.raises(TypeError, match=r"unknown keyword argument 'widht'; did you mean width"):
        widenet.train(widht=512)
    with pytest.raises(TypeError, match="'progress_mode'"):
        widenet.train(progress_mode="bar")


def test_flag_needs_a_bool():
    with pytest.raises(TypeError, match="save_weights is a flag"):
        widenet.train(save_weights="yes", **TINY)


def test_list_option_reaches_the_cli(tmp_path):
    run = widenet.sweep(widths=[256, 512], n=8, d=3, steps=5, backend="cpu", out=tmp_path / "s", progress="none")
    assert run.config["widths"] == [256, 512]


def test_later_experiments_by_name():
    assert callable(widenet.gram)
    with pytest.raises(AttributeError):
        widenet.no_such_experiment


def test_a_new_cli_option_needs_no_python_edit(binary):
    import json, subprocess
    from widenet._options import parse_dump
    dump = json.loads(subprocess.run([str(binary), "--experimental-dump-help"], capture_output=True, text=True).stdout)
    train = next(s for s in dump["command"]["subcommands"] if s["commandName"] == "train")
    train["arguments"].append({"kind": "option", "abstract": "A future knob.", "isOptional": True, "isRepeating": False,
                               "names": [{"kind": "long", "name": "future-knob"}]})
    opts = parse_dump(dump)["train"]
    assert build_arguments("train", opts, dict(future_knob=[1, 2], steps=3), None) == ["--future-knob=1,2", "--steps=3"]


def test_sweep_member_lines_parse_as_progress():
    from widenet._runner import member_progress
    p = member_progress("width 2048 (1/2): loss 1.685e-11, max movement 0.5172, 0.7 s\n", "sweep")
    assert p == {"progress": "sweep", "step": 1, "total": 2, "member": "width 2048",
                 "text": "loss 1.685e-11, max movement 0.5172, 0.7 s", "loss": 1.685e-11, "final": False}
    assert member_progress("note: something (1/2) else", "sweep") is None
