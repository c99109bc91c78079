"""tfbig.cpu_kernels: oneDNN asked for on x86-64 before TensorFlow loads, never forced."""

import os
import platform
import subprocess
import sys

import pytest

from tfbig import cpu_kernels

X86 = platform.machine().lower() in ("x86_64", "amd64")


@pytest.fixture
def fresh(monkeypatch):
    """A process state where TensorFlow is not imported and the variable is unset."""
    monkeypatch.delenv(cpu_kernels.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(cpu_kernels.platform, "machine", lambda: "x86_64")
    return monkeypatch


def test_sets_the_switch_on_x86_before_tensorflow(fresh):
    assert cpu_kernels.prefer_onednn() is True
    assert os.environ[cpu_kernels.ENVIRONMENT_VARIABLE] == "1"


def test_the_users_setting_wins(fresh):
    fresh.setenv(cpu_kernels.ENVIRONMENT_VARIABLE, "0")
    assert cpu_kernels.prefer_onednn() is False
    assert os.environ[cpu_kernels.ENVIRONMENT_VARIABLE] == "0"


def test_too_late_once_tensorflow_is_imported(fresh):
    fresh.setitem(sys.modules, "tensorflow", object())
    assert cpu_kernels.prefer_onednn() is False
    assert cpu_kernels.ENVIRONMENT_VARIABLE not in os.environ


def test_other_cpus_keep_tensorflows_choice(fresh):
    fresh.setattr(cpu_kernels.platform, "machine", lambda: "aarch64")
    assert cpu_kernels.prefer_onednn() is False
    assert cpu_kernels.ENVIRONMENT_VARIABLE not in os.environ


def kernels_in_a_fresh_process(**env):
    code = "import tfbig; from tfbig.cpu_kernels import onednn_enabled; print(onednn_enabled())"
    environment = {k: v for k, v in os.environ.items()
                   if k != cpu_kernels.ENVIRONMENT_VARIABLE}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**environment, **env}, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(not X86, reason="tfbig asks for oneDNN on x86-64 only")
def test_import_tfbig_turns_onednn_on_and_the_variable_turns_it_off():
    assert kernels_in_a_fresh_process() == "True"
    assert kernels_in_a_fresh_process(TF_ENABLE_ONEDNN_OPTS="0") == "False"
