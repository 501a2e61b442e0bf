"""Reports from a results store: a Markdown table of medians and spreads, and matplotlib figures.

Scores are summarised per learner × setting × metric as median and
interquartile range over seeds, next to the median of the null baseline and
the number of failed tasks. Figures: each metric against the sample size (or
another varying size parameter) with 10–90 % quantile bands; runtime against
size on log axes; the true and the estimated graph of one task per learner
and setting, drawn with networkx (hidden nodes as grey squares).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

__all__ = ["summarise", "markdown_table", "write_report", "SIZE_PARAMS"]

logger = logging.getLogger(__name__)

#: Scenario parameters treated as "size" axes, in order of preference.
SIZE_PARAMS = ("n", "n_per_env", "n_obs", "d", "p")


def _setting(config: dict) -> str:
    params = config.get("scenario_params", {})
    text = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{config.get('scenario_label', config['scenario'])}({text})"


def _learner(config: dict) -> str:
    params = config.get("learner_params", {})
    text = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    label = config.get("learner_label", config["learner"])
    return f"{label}({text})" if text else label


def _frame(store, suite=None):
    import pandas as pd

    filters = {"suite": suite} if suite is not None else {}
    rows = store.rows(**filters)
    records = []
    for r in rows:
        cfg = r["config"]
        records.append(
            {
                "key": r["key"],
                "setting": _setting(cfg),
                "scenario": cfg["scenario"],
                "learner": _learner(cfg),
                "seed": r["seed"],
                "metric": r["metric"],
                "value": r["value"],
                "null": r["null_value"],
                "status": r["status"],
                "wall_s": r["wall_s"],
                **{f"size.{k}": v for k, v in cfg.get("scenario_params", {}).items() if k in SIZE_PARAMS},
            }
        )
    df = pd.DataFrame.from_records(records)
    # a store holding only failed tasks has no numbers: keep the numeric columns numeric anyway
    for col in ("value", "null", "wall_s"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def summarise(store, *, suite=None):
    """Median, quartiles and null median per (setting, learner, metric), plus failures and runtime.

    Returns
    -------
    pandas.DataFrame
        Columns ``setting``, ``learner``, ``metric``, ``n``, ``median``,
        ``q25``, ``q75``, ``null_median``, ``failed`` (tasks that raised or
        timed out), ``wall_s`` (median seconds per task).
    """
    import pandas as pd

    df = _frame(store, suite)
    if df.empty:
        return pd.DataFrame(columns=["setting", "learner", "metric", "n", "median", "q25", "q75", "null_median",
                                     "failed", "wall_s"])
    tasks = df.drop_duplicates("key")
    failed = tasks[tasks.status != "ok"].groupby(["setting", "learner"]).size().rename("failed")
    wall = tasks.groupby(["setting", "learner"]).wall_s.median().rename("wall_s")
    ok = df[(df.status == "ok") & df.metric.notna()]
    g = ok.groupby(["setting", "learner", "metric"])
    out = pd.DataFrame(
        {
            "n": g.value.count(),
            "median": g.value.median(),
            "q25": g.value.quantile(0.25),
            "q75": g.value.quantile(0.75),
            "null_median": g.null.median(),
        }
    ).reset_index()
    out = out.join(failed, on=["setting", "learner"]).join(wall, on=["setting", "learner"])
    # settings where every task failed still get a row, so failures are never silent
    all_failed = tasks.groupby(["setting", "learner"]).status.apply(lambda s: (s != "ok").all())
    extra = [
        {"setting": s, "learner": lr, "metric": "(all tasks failed)", "n": 0, "failed": int(failed.get((s, lr), 0)),
         "wall_s": wall.get((s, lr))}
        for (s, lr), bad in all_failed.items() if bad
    ]
    out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True) if extra else out
    out["failed"] = out["failed"].fillna(0).astype(int)
    return out.sort_values(["setting", "learner", "metric"]).reset_index(drop=True)


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{x:.3g}"


def markdown_table(summary, *, metrics=None) -> str:
    """A Markdown table of ``summary`` (see :func:`summarise`): median [q25, q75] with the null median."""
    lines = [
        "| setting | learner | metric | median [IQR] | null | n | failed | s/task |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary.itertuples(index=False):
        if metrics is not None and row.metric not in metrics:
            continue
        spread = f"{_fmt(row.median)} [{_fmt(row.q25)}, {_fmt(row.q75)}]" if row.n else "–"
        lines.append(
            f"| {row.setting} | {row.learner} | {row.metric} | {spread} | {_fmt(row.null_median)} | "
            f"{int(row.n)} | {int(row.failed)} | {_fmt(row.wall_s)} |"
        )
    return "\n".join(lines)


def _size_axis(df):
    for k in SIZE_PARAMS:
        col = f"size.{k}"
        if col in df and df[col].nunique(dropna=True) > 1:
            return col
    return None


def _plot_metrics(df, out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    paths = []
    for scenario, sub in df[(df.status == "ok") & df.metric.notna()].groupby("scenario"):
        axis = _size_axis(sub)
        if axis is None:
            continue
        metrics = sorted(sub.metric.unique())
        fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.2), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            for learner, part in sub[sub.metric == metric].groupby("learner"):
                q = part.groupby(axis).value.quantile([0.1, 0.5, 0.9]).unstack()
                ax.plot(q.index, q[0.5], marker="o", label=learner)
                ax.fill_between(q.index, q[0.1], q[0.9], alpha=0.2)
            ax.set_xscale("log")
            ax.set_xlabel(axis.split(".", 1)[1])
            ax.set_title(metric)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{scenario}: median and 10–90 % band over seeds")
        fig.tight_layout()
        path = out / f"metrics_{scenario}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def _plot_runtime(df, out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    tasks = df.drop_duplicates("key")
    axis = _size_axis(tasks)
    if axis is None or tasks.wall_s.isna().all():
        return []
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for learner, part in tasks.groupby("learner"):
        med = part.groupby(axis).wall_s.median()
        ax.plot(med.index, med.values, marker="o", label=learner)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(axis.split(".", 1)[1])
    ax.set_ylabel("seconds per task (median)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "runtime.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]


def _draw(ax, G, title):
    import networkx as nx

    pos = nx.spring_layout(G, seed=0)
    hidden = [v for v, d in G.nodes(data=True) if d.get("latent", False)]
    observed = [v for v in G if v not in hidden]
    nx.draw_networkx_nodes(G, pos, nodelist=observed, node_color="#9ecae1", node_size=260, ax=ax)
    nx.draw_networkx_nodes(G, pos, nodelist=hidden, node_color="#bdbdbd", node_shape="s", node_size=300, ax=ax)
    directed = [(u, v) for u, v, m in G.edges(data="mark") if (m or "-->") in ("-->", "o->")]
    other = [(u, v) for u, v, m in G.edges(data="mark") if (m or "-->") not in ("-->", "o->")]
    nx.draw_networkx_edges(G, pos, edgelist=directed, arrows=True, arrowsize=10, ax=ax)
    nx.draw_networkx_edges(G, pos, edgelist=other, arrows=False, style="dashed", ax=ax)
    nx.draw_networkx_labels(G, pos, font_size=7, ax=ax)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _plot_graphs(store, df, out: Path) -> list[Path]:
    import matplotlib.pyplot as plt
    import networkx as nx

    paths = []
    tasks = df[df.status == "ok"].drop_duplicates(["setting", "learner"]).sort_values(["setting", "learner"])
    for k, row in enumerate(tasks.itertuples(index=False)):
        graphs = store.artifacts(row.key).get("graphs")
        if not graphs:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        _draw(axes[0], nx.node_link_graph(graphs["true"], edges="edges"), f"true: {row.setting}")
        _draw(axes[1], nx.node_link_graph(graphs["estimated"], edges="edges"), f"estimated: {row.learner}")
        fig.tight_layout()
        path = out / f"graphs_{k:02d}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(store, out_dir, *, suite=None, figures: bool = True, metrics=None) -> dict:
    """Write ``report.md`` (and PNG figures) for the rows of ``store`` into ``out_dir``.

    ``metrics`` (a collection of metric names) restricts the table; the
    figures and ``summary.json`` keep every metric.

    Returns
    -------
    dict
        ``markdown`` (the table text) and ``files`` (paths written).
    """
    import matplotlib

    matplotlib.use("Agg")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(store, suite=suite)
    table = markdown_table(summary, metrics=metrics)
    files = []
    if figures:
        df = _frame(store, suite)
        if not df.empty:
            files += _plot_metrics(df, out) + _plot_runtime(df, out) + _plot_graphs(store, df, out)
    md = ["# Benchmark report", "", f"Store: `{store.path}`" + (f", suite `{suite}`" if suite else ""), "",
          "Median [interquartile range] over seeds; `null` is the median score of the null baseline "
          "(noise codes or a density-matched random graph) under the same protocol.", "", table, ""]
    md += [f"![{p.stem}]({p.name})" for p in files]
    path = out / "report.md"
    path.write_text("\n".join(md) + "\n")
    (out / "summary.json").write_text(json.dumps(summary.to_dict(orient="records"), default=str, indent=1))
    return {"markdown": table, "files": [path, out / "summary.json", *files]}
