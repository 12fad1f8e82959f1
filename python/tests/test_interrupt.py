"""Ctrl-C: forwarded to the binary, which checkpoints; Run.resume() then ends where an
uninterrupted run ends, byte for byte."""
import _thread
import threading

import pytest

import widenet
from widenet import Run

OPTIONS = dict(n=16, d=4, width=4096, steps=3000, checkpoint_every=500, backend="cpu")


def test_interrupt_then_resume_matches_an_uninterrupted_run(tmp_path):
    timers = []

    def ctrl_c_soon(p):
        # The first progress line comes from inside the training loop: press Ctrl-C a little later.
        if not timers:
            timers.append(threading.Timer(0.3, _thread.interrupt_main))
            timers[0].start()

    with pytest.raises(KeyboardInterrupt) as e:
        widenet.train(out=tmp_path / "stopped", progress=ctrl_c_soon, **OPTIONS)
    assert isinstance(e.value, widenet.Interrupted)
    assert e.value.exit_code == 130 and "checkpoint written" in e.value.message
    run = e.value.run
    assert run is not None and run.path == (tmp_path / "stopped").resolve()
    assert run.resumable and run.status == "interrupted" and run.summary is None
    stopped_rows = len(run.rows)
    assert 0 < stopped_rows

    resumed = Run(tmp_path / "stopped").resume(progress="none")
    assert resumed.status == "complete" and resumed.summary["resumed_from_step"] > 0
    assert len(resumed.rows) > stopped_rows

    whole = widenet.train(out=tmp_path / "whole", progress="none", **OPTIONS)
    assert (resumed.path / "metrics.jsonl").read_bytes() == (whole.path / "metrics.jsonl").read_bytes()
    assert (resumed.arrays["u"] == whole.arrays["u"]).all()
