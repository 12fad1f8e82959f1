"""Ctrl-C: forwarded to the binary, which checkpoints; Run.resume() then ends where an
uninterrupted run ends, byte for byte."""
import os
import signal
import threading

import pytest

import widenet
from widenet import Run

OPTIONS = dict(n=16, d=4, width=4096, steps=6000, checkpoint_every=500, backend="cpu")


def ctrl_c_in(seconds):
    """A real SIGINT to this process after `seconds`, as a terminal's Ctrl-C: unlike
    _thread.interrupt_main, it also ends a read the main thread is blocked in, so it lands while the
    binary is still running rather than when its next line arrives (which may be its last)."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_interrupt_then_resume_matches_an_uninterrupted_run(tmp_path):
    timers = []

    def ctrl_c_soon(p):
        # The first progress line comes from inside the training loop: press Ctrl-C a little later.
        if not timers:
            timers.append(ctrl_c_in(0.05))

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


def test_sweep_interrupted_between_steps_resumes_to_the_same_rows(tmp_path):
    # A sweep reports progress per finished member; Ctrl-C a little after the first lands in the second.
    opts = dict(widths=[2048, 4096], n=16, d=4, steps=6000, checkpoint_every=500, backend="cpu")
    timers, seen = [], []

    def ctrl_c_soon(p):
        seen.append(p)
        if not timers:
            timers.append(ctrl_c_in(0.05))

    with pytest.raises(widenet.Interrupted) as e:
        widenet.sweep(out=tmp_path / "stopped", progress=ctrl_c_soon, **opts)
    assert seen[0]["member"] == "width 2048" and seen[0]["step"] == 1 and seen[0]["total"] == 2
    run = e.value.run
    assert run.resumable and run.summary is None
    resumed = run.resume(progress="none")
    whole = widenet.sweep(out=tmp_path / "whole", progress="none", **opts)
    assert resumed.status == "complete" and [m.path.name for m in resumed.members] == ["width-2048", "width-4096"]
    for a, b in zip(resumed.members, whole.members):
        assert (a.path / "metrics.jsonl").read_bytes() == (b.path / "metrics.jsonl").read_bytes()
    timing = {"steps_per_second"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]
    assert strip(resumed.rows) == strip(whole.rows)


def test_sigterm_is_forwarded_and_the_run_resumes(tmp_path):
    # A scheduler's SIGTERM to the Python process reaches the binary, which checkpoints and exits 143;
    # the call raises Interrupted, and the run resumes to an uninterrupted run's bytes.
    import subprocess, sys, time
    script = f"""
import sys, widenet
def started(p):
    print("progress", flush=True)
try:
    widenet.train(out={str(tmp_path / 'stopped')!r}, progress=started, **{OPTIONS!r})
except widenet.Interrupted as e:
    print("interrupted", e.exit_code, e.run.path if e.run else None, flush=True)
    sys.exit(3)
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert child.stdout.readline().strip() == "progress"
    time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 3, out
    assert "interrupted 143" in out
    run = Run(tmp_path / "stopped")
    assert run.resumable and run.summary is None
    resumed = run.resume(progress="none")
    whole = widenet.train(out=tmp_path / "whole", progress="none", **OPTIONS)
    assert (resumed.path / "metrics.jsonl").read_bytes() == (whole.path / "metrics.jsonl").read_bytes()
