"""Finding the binary: explicit path, $WIDENET_BIN, PATH, the checkout's release build."""
import os
import stat
from pathlib import Path

import pytest

from widenet import BinaryNotFound, find_binary


def fake(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def places(tmp_path):
    return dict(
        explicit=fake(tmp_path / "explicit" / "widenet"),
        env=fake(tmp_path / "env" / "widenet"),
        path_dir=fake(tmp_path / "onpath" / "widenet").parent,
        checkout=fake(tmp_path / "checkout" / ".build" / "release" / "widenet").parents[2],
    )


def test_order(places):
    env = {"WIDENET_BIN": str(places["env"]), "PATH": str(places["path_dir"])}
    ck = [places["checkout"]]
    assert find_binary(places["explicit"], env=env, checkouts=ck) == places["explicit"].resolve()
    assert find_binary(env=env, checkouts=ck) == places["env"].resolve()
    env.pop("WIDENET_BIN")
    assert find_binary(env=env, checkouts=ck) == (places["path_dir"] / "widenet").resolve()
    env["PATH"] = str(places["path_dir"].parent / "empty")
    assert find_binary(env=env, checkouts=ck) == (places["checkout"] / ".build/release/widenet").resolve()


def test_not_found_names_what_it_tried(tmp_path):
    with pytest.raises(BinaryNotFound) as e:
        find_binary(env={"PATH": str(tmp_path / "nothing")}, checkouts=[tmp_path / "co"])
    text = str(e.value)
    assert "$WIDENET_BIN: not set" in text
    assert "widenet on PATH" in text and str(tmp_path / "nothing") in text
    assert str(tmp_path / "co" / ".build" / "release" / "widenet") + ": does not exist" in text
    assert len(e.value.tried) == 3


def test_explicit_or_env_that_is_unusable_is_an_error(tmp_path, places):
    with pytest.raises(BinaryNotFound, match="does not exist"):
        find_binary(tmp_path / "nope", env={"WIDENET_BIN": str(places["env"])})
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(BinaryNotFound, match=r"\$WIDENET_BIN=.*plain: is not executable"):
        find_binary(env={"WIDENET_BIN": str(plain), "PATH": str(places["path_dir"])})


def test_the_binary_under_test_is_found(binary):
    assert binary.is_file() and os.access(binary, os.X_OK)
