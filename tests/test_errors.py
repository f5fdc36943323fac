"""errors.py: atomic writes leave nothing behind when they fail; Ctrl-C deferred."""

import os
import signal

import pytest

from bert_tf.errors import atomic_path, interrupts_deferred


def test_a_failed_atomic_write_removes_the_directories_it_made(tmp_path):
  (tmp_path / "exports").mkdir()  # the user's: stays, even empty
  target = tmp_path / "exports" / "new" / "deeper" / "1"
  with pytest.raises(KeyboardInterrupt):
    with atomic_path(str(target)) as tmp:
      os.makedirs(tmp)
      raise KeyboardInterrupt
  assert os.listdir(tmp_path / "exports") == []
  with atomic_path(str(target)) as tmp:
    os.makedirs(tmp)
  assert os.path.isdir(target)


def test_ctrl_c_inside_is_raised_on_leaving_and_nests():
  done = []
  with pytest.raises(KeyboardInterrupt):
    with interrupts_deferred():
      with interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("inner")
      done.append("outer")
  assert done == ["inner", "outer"]
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_error_on_its_way_wins_and_a_second_ctrl_c_stops_at_once():
  with pytest.raises(ValueError, match="disk full"):
    with interrupts_deferred():
      os.kill(os.getpid(), signal.SIGINT)
      raise ValueError("disk full")
  done = []
  with pytest.raises(KeyboardInterrupt):
    with interrupts_deferred():
      os.kill(os.getpid(), signal.SIGINT)
      os.kill(os.getpid(), signal.SIGINT)
      done.append("after")
  assert done == []
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
