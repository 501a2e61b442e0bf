"""The benchmark harness end to end: suites, engines, resume after SIGKILL, reports."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.runner import key_config, run_suite
from benchmarks.store import ResultsStore, task_key
from benchmarks.suites import list_suites, load_suite
from crl.cli import main
from crl.exceptions import ConfigError, CRLError

TINY = """
[suite]
name = "tiny"
seeds = [0, 1]

[[scenarios]]
name = "linear_cd"
params = { n_per_env = [100, 200] }

[[scenarios]]
name = "olc"
params = { n = 200 }

[[learners]]
name = "OracleEncoder"
scenarios = ["linear_cd"]

[[learners]]
name = "RandomEncoder"
params = { n_components = 5 }
scenarios = ["linear_cd"]

[[learners]]
name = "EmptyGraph"
scenarios = ["olc"]
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _values(store):
    return {(r["key"], r["metric"]): (r["value"], r["null_value"]) for r in store.rows() if r["metric"]}


def test_suite_expansion(tiny):
    suite = load_suite(tiny)
    # linear_cd: 2 sizes x 2 learners x 2 seeds; olc: 1 x 1 x 2
    assert len(suite.tasks) == 10
    keys = {task_key(key_config(c)) for c in suite.tasks}
    assert len(keys) == 10


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[suite]\nseeds = 2\n[[scenarios]]\nname = 'linear-cd'\n[[learners]]\nname = 'EmptyGraph'\n", "linear_cd"),
        ("[suite]\nseeds = 2\n[[scenarios]]\nname = 'olc'\n[[learners]]\nname = 'Nope'\n", "EmptyGraph"),
        ("[suite]\nseeds = 2\n[[scenarios]]\nname = 'olc'\nparams = { nn = 3 }\n[[learners]]\nname = 'EmptyGraph'\n", "nn"),
        ("[suite]\nseedz = 2\n", "seedz"),
        ("[suite]\nseeds = 'all'\n[[scenarios]]\nname = 'olc'\n[[learners]]\nname = 'EmptyGraph'\n", "seeds"),
        ("[suite\nbroken", "malformed TOML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        load_suite(path)
    assert "bad.toml" in str(info.value)


def test_local_and_dask_engines_agree(tiny, tmp_path):
    pytest.importorskip("dask.distributed")
    suite = load_suite(tiny)
    with ResultsStore(tmp_path / "local.sqlite") as a, ResultsStore(tmp_path / "dask.sqlite") as b:
        ca = run_suite(suite, a, engine="local", jobs=2)
        cb = run_suite(suite, b, engine="dask", jobs=2)
        assert ca["ok"] == cb["ok"] == 10 and ca["failed"] == cb["failed"] == 0
        va, vb = _values(a), _values(b)
        assert va.keys() == vb.keys() and len(va) > 20
        for k in va:
            assert va[k] == pytest.approx(vb[k], nan_ok=True)
        # a second run finds everything done and computes nothing
        again = run_suite(suite, a, engine="local", jobs=2)
        assert again["skipped"] == 10 and again["ran"] == 0


def test_failing_task_is_recorded_and_sweep_goes_on(tmp_path):
    path = tmp_path / "fail.toml"
    path.write_text(
        "[suite]\nname='fail'\nseeds=[0]\n[[scenarios]]\nname='olc'\nparams={n=[0, 200]}\n"
        "[[learners]]\nname='EmptyGraph'\n"
    )
    with ResultsStore(tmp_path / "s.sqlite") as store:
        counts = run_suite(load_suite(path), store)
        assert counts == {"total": 2, "skipped": 0, "ran": 2, "ok": 1, "failed": 1}
        failed = [r for r in store.rows() if r["status"] == "error"]
        assert len(failed) == 1 and failed[0]["error"]


def test_timeout_is_recorded(tmp_path):
    path = tmp_path / "slow.toml"
    path.write_text(
        "[suite]\nname='slow'\nseeds=[0]\n[[scenarios]]\nname='pendulum'\nparams={n=3000, size=64}\n"
        "[[learners]]\nname='RandomEncoder'\nparams={n_components=4}\n"
    )
    with ResultsStore(tmp_path / "s.sqlite") as store:
        counts = run_suite(load_suite(path), store, timeout=0.5)
        assert counts["failed"] == 1
        assert store.rows()[0]["status"] == "timeout"


def test_sigkill_then_resume_loses_nothing(tmp_path):
    suite_path = tmp_path / "many.toml"
    suite_path.write_text(
        "[suite]\nname='many'\nseeds=12\n[[scenarios]]\nname='linear_cd'\nparams={n_per_env=300}\n"
        "[[learners]]\nname='OracleEncoder'\n"
    )
    store_path = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-m", "crl.cli", "bench", "run", str(suite_path), "--store", str(store_path), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    n_done = 0
    while time.time() < deadline:
        time.sleep(0.2)
        if store_path.exists():
            try:
                con = sqlite3.connect(store_path)
                n_done = con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]
                con.close()
            except sqlite3.Error:
                n_done = 0
        if n_done >= 3:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= n_done < 12, "the sweep should be killed midway"
    assert main(["bench", "run", str(suite_path), "--store", str(store_path), "-q"]) == 0
    with ResultsStore(store_path) as store:
        keys = [r["key"] for r in store.rows() if r["metric"] == "mcc"]
        assert len(keys) == 12 and len(set(keys)) == 12  # every task exactly once
        assert store.summary()["ok"] == 12


def test_corrupt_store_is_refused_and_untouched(tiny, tmp_path, capsys):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database at all" * 10)
    before = bad.read_bytes()
    assert main(["bench", "run", str(tiny), "--store", str(bad), "-q"]) == 2
    assert "bad.sqlite" in capsys.readouterr().err
    assert bad.read_bytes() == before


def test_report_writes_markdown_and_valid_pngs(tiny, tmp_path):
    import matplotlib.image as mpimg

    store_path = tmp_path / "s.sqlite"
    assert main(["bench", "run", str(tiny), "--store", str(store_path), "-q"]) == 0
    out = tmp_path / "report"
    assert main(["bench", "report", str(store_path), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "| setting | learner | metric |" in text and "OracleEncoder" in text
    pngs = sorted(out.glob("*.png"))
    names = {p.name for p in pngs}
    assert "runtime.png" in names and any(n.startswith("metrics_") for n in names)
    assert any(n.startswith("graphs_") for n in names)
    for p in pngs:
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
        assert np.ptp(img) > 0  # not a blank canvas


@pytest.mark.parametrize("name", list_suites())
def test_every_shipped_suite_loads_and_names_distinct_tasks(name):
    # a typo in a learner parameter or a repeated label would only surface hours into a run
    suite = load_suite(name)
    assert suite.name == name and suite.tasks
    rows = [(t["scenario_label"], repr(t["scenario_params"]), t["learner_label"], repr(t["learner_params"]), t["seed"])
            for t in suite.tasks]
    assert len(set(rows)) == len(rows)
    labels = {}
    for t in suite.tasks:  # per scenario, one label is one configuration (or one grid): reports group by label
        key = (t["scenario_label"], repr(t["scenario_params"]), t["learner_label"])
        labels.setdefault(key, set()).add((t["learner"], repr(t["learner_params"])))
    grids = {le.get("label", le["name"]) for le in suite.learners
             if any(isinstance(v, list) for v in le.get("params", {}).values())}
    assert all(len(v) == 1 for k, v in labels.items() if k[2] not in grids)


def test_bench_run_prints_table(tiny, tmp_path, capsys):
    assert main(["bench", "run", str(tiny), "--store", str(tmp_path / "s.sqlite"), "-q", "--shard", "0/2"]) == 0
    out = capsys.readouterr().out
    assert "| setting | learner | metric |" in out
    with pytest.raises(CRLError, match="shard"):
        from benchmarks.runner import parse_shard

        parse_shard("3/2")
    assert Path(tmp_path / "s.sqlite").exists()


def test_report_of_a_store_where_every_task_failed(tmp_path):
    path = tmp_path / "allfail.toml"
    path.write_text("[suite]\nname='allfail'\nseeds=[0, 1]\n[[scenarios]]\nname='olc'\nparams={n=0}\n[[learners]]\nname='EmptyGraph'\n")
    store_path = tmp_path / "s.sqlite"
    with ResultsStore(store_path) as store:
        assert run_suite(load_suite(path), store)["failed"] == 2
    out = tmp_path / "report"
    assert main(["bench", "report", str(store_path), "--out", str(out)]) == 0
    assert "(all tasks failed)" in (out / "report.md").read_text()


def test_task_seed_reaches_learners_random_state():
    from benchmarks.learners import make_learner

    assert make_learner("RandomEncoder", {}, seed=7).random_state == 7
    # a suite's explicit setting wins over the task seed
    assert make_learner("RandomEncoder", {"random_state": 3}, seed=7).random_state == 3
    # learners without a random_state are left alone
    assert "random_state" not in make_learner("EmptyGraph", {}, seed=7).get_params()


def test_dask_engine_enforces_timeouts(tmp_path):
    pytest.importorskip("dask.distributed")
    path = tmp_path / "mixed.toml"
    # GIN with the kernel test on 2000 rows runs for minutes; the empty graph takes a second
    path.write_text(
        "[suite]\nname='mixed'\nseeds=[0]\n[[scenarios]]\nname='rlcd_measurement'\nparams={n=2000, noise='uniform'}\n"
        "[[learners]]\nname='EmptyGraph'\n"
        "[[learners]]\nname='GINPeer'\nparams={indep_test='kci', max_samples=2000}\n"
    )
    with ResultsStore(tmp_path / "s.sqlite") as store:
        start = time.monotonic()
        counts = run_suite(load_suite(path), store, engine="dask", jobs=2, timeout=12.0)
        assert time.monotonic() - start < 60
        status = {r["config"]["learner"]: r["status"] for r in store.rows()}
        assert status == {"EmptyGraph": "ok", "GINPeer": "timeout"}
        assert counts["ok"] == 1 and counts["failed"] == 1


def _port_children() -> set[int]:
    """PIDs of live interpreters running causal-learn's RLCD port for RLCDPeer."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"causallearn.search.HiddenCausal.RLCD" in cmd:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list processes")
def test_timeout_leaves_no_orphaned_peer_interpreter(tmp_path):
    pytest.importorskip("causallearn")
    before = _port_children()
    path = tmp_path / "port.toml"
    path.write_text(
        "[suite]\nname='port'\nseeds=[0]\n[[scenarios]]\nname='rlcd_general'\nparams={graph='random', n=10000}\n"
        "[[learners]]\nname='RLCDPeer'\n"
    )
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run_suite(load_suite(path), store, timeout=6.0)
        assert store.rows()[0]["status"] == "timeout"
    deadline = time.monotonic() + 10
    while _port_children() - before and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not _port_children() - before
