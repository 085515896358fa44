"""The synthesis report: headline scores, ``--fail-under`` thresholds, text and Markdown.

Headline scores are in [0, 1], higher is better:

- ``fidelity``: 1 - the mean per-column distance (KS or total variation);
- ``correlation``: 1 - the mean absolute difference of the Spearman matrices;
- ``utility``: model trained on synthetic rows / trained on real rows, on held-out rows;
- ``privacy``: from the DCR comparison, (1 - share of synthetic rows whose closest source row
  is a training row) / (1 - the share expected of rows that know neither set);

and ``exact_copies``, the synthetic rows equal to a source row, which must be 0.
"""

from __future__ import annotations

from typing import Any

from gitml.errors import BadInputError

SCORES = ("fidelity", "correlation", "utility", "privacy")


def parse_thresholds(items: list[str] | tuple[str, ...]) -> dict[str, float]:
    """``NAME=VALUE`` (or several, comma-separated) from ``--fail-under``."""
    out: dict[str, float] = {}
    for item in items:
        for part in item.split(","):
            name, sep, value = part.strip().partition("=")
            try:
                v = float(value) if sep else None
            except ValueError:
                v = None
            if name not in SCORES or v is None or not 0 <= v <= 1:
                raise BadInputError(f"--fail-under {part.strip()!r}: expected NAME=VALUE with "
                                    f"NAME one of {', '.join(SCORES)} and VALUE from 0 to 1")
            out[name] = v
    return out


def headline(report: dict[str, Any]) -> dict[str, Any]:
    fid = report["fidelity"]
    dists = [c["distance"] for c in fid["columns"]]
    corr = fid.get("correlation")
    dcr = report["privacy"].get("dcr")
    h = {"fidelity": round(1 - sum(dists) / len(dists), 4) if dists else None,
         "correlation": round(1 - corr["mean_abs_diff"], 4) if corr else None,
         "utility": fid["model"].get("utility"),
         "privacy": dcr["privacy"] if dcr else None,
         "exact_copies": report["privacy"]["exact_copies"]}
    return h


def failures(h: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """Why the synthetic table must not be used (empty: it may)."""
    out = []
    if h["exact_copies"]:
        out.append(f"{h['exact_copies']:,} synthetic rows copy a source row")
    for name, limit in thresholds.items():
        v = h.get(name)
        if v is None:
            out.append(f"{name} was not measured (threshold {limit:g})")
        elif v < limit:
            out.append(f"{name} {v:.4g} < {limit:g}")
    return out


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _num(v: Any, fmt: str = ".3f") -> str:
    return "-" if v is None else format(v, fmt)


def summary_line(h: dict[str, Any]) -> str:
    return " · ".join([f"fidelity {_num(h['fidelity'])}", f"correlation {_num(h['correlation'])}",
                       f"utility {_num(h['utility'])}", f"privacy {_num(h['privacy'])}",
                       f"exact copies {h['exact_copies']:,}"])


def _column_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for c in report["fidelity"]["columns"]:
        pooled = (f"{c['pooled_values']:,} values ({c['pooled_rows']:,} rows)"
                  if c.get("pooled_values") else "")
        rows.append([c["name"], c["kind"], c["metric"], f"{c['distance']:.4f}",
                     f"{_pct(c['null_source'])} -> {_pct(c['null_synthetic'])}", pooled])
    return rows


def _lines(report: dict[str, Any]) -> list[str]:
    """The sentences after the column table (shared by text and Markdown)."""
    out = []
    cols = report["columns"]
    if cols["keys"]:
        out.append("keys regenerated (unique, none from the source): " + ", ".join(cols["keys"]))
    for name, rule in cols["replaced"].items():
        out.append(f"{name}: replaced ({rule})")
    for d in cols["dropped"]:
        out.append(f"{d['name']}: dropped ({d['why']})")
    corr = report["fidelity"].get("correlation")
    if corr:
        a, b = corr["worst_pair"]
        out.append(f"correlation: max |diff| {corr['max_abs_diff']:.4f} ({a} ~ {b}), "
                   f"mean {corr['mean_abs_diff']:.4f} over {len(corr['columns'])} columns")
    m = report["fidelity"]["model"]
    if "skipped" in m:
        out.append(f"model check: skipped ({m['skipped']})")
    else:
        metric = m["metric"].replace("_", " ")
        out.append(f"model check: {m['target']}, {metric} {_num(m['synthetic'])} trained on "
                   f"synthetic vs {_num(m['real'])} on real, on {m['test_rows']:,} held-out "
                   f"rows (utility {_num(m['utility'])})")
    p = report["privacy"]
    out.append(f"exact copies of source rows: {p['exact_copies']:,}")
    d = p.get("dcr")
    if d:
        seen = "" if d["reference_fraction"] >= 1 else \
            f", a {d['reference_fraction']:.1%} sample of the source"
        out.append(f"DCR: the closest source row of {d['share_closer_to_training']:.1%} of "
                   f"{d['rows']:,} synthetic rows is a training row (expected "
                   f"{d['expected_share']:.1%}; privacy {d['privacy']:.3f}) among "
                   f"{d['reference_rows']:,} source rows{seen}; median distance to the "
                   f"training rows {d['dcr_median']:.4f}, of held-out rows "
                   f"{d['baseline_median']:.4f}")
    else:
        out.append("DCR: not measured (no held-out rows: the source has fewer than 20)")
    pooled = p["pooling"]
    if pooled:
        out.append("rare values pooled as (other): " + ", ".join(
            f"{x['column']} {x['values']:,} values in {x['rows']:,} rows" for x in pooled))
    return out


def _head(report: dict[str, Any]) -> str:
    s, o = report["source"], report["output"]
    return (f"{s['name']} ({s['rows']:,} rows) -> {o['path']} ({o['rows']:,} rows), "
            f"{report['method']}, seed {report['seed']}")


def to_text(report: dict[str, Any]) -> str:
    from gitml.cli.output import table

    out = [_head(report), ""]
    if report["fidelity"]["columns"]:
        out.append(table(["column", "kind", "metric", "distance", "nulls", "pooled"],
                         _column_rows(report), "lllrll"))
        out.append("")
    out += _lines(report)
    out += ["", summary_line(report["headline"])]
    for f in report["failed"]:
        out.append(f"FAIL  {f}")
    return "\n".join(out)


def to_markdown(report: dict[str, Any]) -> str:
    from gitml.cli.output import markdown

    out = [f"### Synthetic table: {_head(report)}", "", f"**{summary_line(report['headline'])}**",
           ""]
    if report["fidelity"]["columns"]:
        out += [markdown(["column", "kind", "metric", "distance", "nulls", "pooled"],
                         _column_rows(report)), ""]
    out += [f"- {x}" for x in _lines(report)]
    if report["failed"]:
        out += [""] + [f"- **FAIL** {f}" for f in report["failed"]]
    return "\n".join(out) + "\n"
