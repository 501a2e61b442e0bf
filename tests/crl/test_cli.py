import subprocess
import sys

import numpy as np

from crl.cli import main
from simulators.io import load_problem


def test_simulate_prints_summary_and_writes(tmp_path, capsys):
    out = tmp_path / "p.npz"
    assert main(["simulate", "linear_cd", "--seed", "3", "-p", "n_per_env=100", "-p", "weight_range=[0.3, 0.9]", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "n_latents" in text and "setting.interventions" in text and "var_sortability" in text
    P = load_problem(out)
    assert P.X.shape == (600, 10)
    weights = np.abs([w for _, _, w in P.truth.graph.edges(data="weight")])
    assert weights.size and np.all((weights >= 0.3) & (weights <= 0.9))


def test_errors_are_one_line_with_exit_2(capsys):
    assert main(["simulate", "nope"]) == 2
    err = capsys.readouterr().err
    assert "scenario" in err and "linear_cd" in err and "Traceback" not in err
    assert main(["simulate", "linear_cd", "-p", "bogus=1"]) == 2
    assert "valid parameters" in capsys.readouterr().err
    assert main(["simulate", "linear_cd", "-p", "novalue"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_scenarios_lists_every_scenario(capsys):
    from simulators import list_scenarios

    assert main(["scenarios"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in list_scenarios())


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "crl.cli", "scenarios"], capture_output=True, text=True)
    assert out.returncode == 0 and "pendulum" in out.stdout
