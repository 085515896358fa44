"""`gitml plots show|diff` and `gitml report`: what lands in the page, and bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, write

from gitml import Live


def run(root: Path, steps: int, slope: float, extra: dict[str, float] | None = None,
        lr: float = 0.1) -> None:
    with Live(str(root / "gitml-live")) as live:
        live.log_param("lr", lr)
        for s in range(steps):
            live.log_metric("train.loss", 1.0 / (1.0 + slope * s))
            for name, v in (extra or {}).items():
                live.log_metric(name, v)
            live.next_step()


def commit(root: Path, msg: str, tag: str | None = None) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", msg)
    if tag:
        git(root, "tag", tag)


def specs_of(html: str) -> list[dict]:
    m = re.search(r'<script type="application/json" id="gitml-specs">(.*?)</script>', html, re.S)
    assert m, "no chart specs in the page"
    return json.loads(m.group(1).replace("<\\/", "</"))


def lines_by_rev(spec: dict) -> dict[str, int]:
    layer = spec["layer"][0] if "layer" in spec else spec
    return {row["rev"]: len(row["y"]) for row in layer["data"]["values"]}


@pytest.fixture
def runs(repo: Path, cli) -> Path:
    """main: 50 steps; exp-3: 80 steps, steeper; workspace: 30 steps, one extra metric."""
    run(repo, 50, 0.1)
    commit(repo, "baseline")
    git(repo, "branch", "exp-3")
    git(repo, "switch", "-q", "exp-3")
    run(repo, 80, 0.3, lr=0.05)
    write(repo / "data/train.csv", "a,b\n1,2\n")
    assert cli("add", "-q", "data/train.csv").code == 0
    commit(repo, "exp-3")
    git(repo, "switch", "-q", "main")
    run(repo, 30, 0.2, extra={"val.acc": 0.5})
    return repo


def test_show_draws_the_workspace_series(runs: Path, cli) -> None:
    res = cli("plots", "show")
    assert res.code == 0, res.err
    page = (runs / ".gitml/tmp/plots.html").read_text()
    specs = {s["spec"]["usermeta"]["gitml"]["path"]: s["spec"] for s in specs_of(page)}
    assert set(specs) == {"gitml-live/plots/metrics/train.loss.tsv",
                          "gitml-live/plots/metrics/val.acc.tsv"}
    assert lines_by_rev(specs["gitml-live/plots/metrics/train.loss.tsv"]) == {"workspace": 30}
    assert "train.loss: workspace 30" in res.out and "Wrote .gitml/tmp/plots.html" in res.out
    # self-contained: no external script, stylesheet or font; a policy forbids requests
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", page, flags=re.S)
    assert markup.count("<script") == 3
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", markup)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "window.vegaEmbed" in page


def test_diff_one_colour_per_revision_and_notes(runs: Path, cli) -> None:
    res = cli("plots", "diff", "main", "exp-3", "-o", "cmp.html")
    assert res.code == 0, res.err
    specs = specs_of((runs / "cmp.html").read_text())
    by_path = {s["spec"]["usermeta"]["gitml"]["path"]: s["spec"] for s in specs}
    loss = by_path["gitml-live/plots/metrics/train.loss.tsv"]
    assert lines_by_rev(loss) == {"main": 50, "exp-3": 80}
    assert loss["layer"][0]["encoding"]["color"]["scale"]["domain"] == ["main", "exp-3"]
    assert "note: train.loss: step ranges differ: main 0–49, exp-3 0–79" in res.out
    # the workspace is not part of it, so val.acc (only there) is not drawn
    assert "val.acc" not in res.out
    js = cli("plots", "diff", "main", "exp-3", "--json")
    data = json.loads(js.out)
    chart = data["charts"][0]
    assert chart["title"] == "train.loss"
    assert [r["points"] for r in chart["revisions"]] == [50, 80]
    assert chart["data"]["exp-3"]["x"][:3] == [0, 1, 2]


def test_diff_defaults_and_missing_revision_file(runs: Path, cli) -> None:
    res = cli("plots", "diff", "--json")  # HEAD against the workspace
    data = json.loads(res.out)
    assert [r["label"] for r in data["revisions"]] == ["HEAD", "workspace"]
    acc = next(c for c in data["charts"] if c["title"] == "val.acc")
    assert acc["notes"] == ["HEAD: file not present"]
    assert [r["points"] for r in acc["revisions"]] == [0, 30]


def test_declared_templates(repo: Path, cli) -> None:
    write(repo / "eval/roc.json", json.dumps(
        {"roc": [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.1, "tpr": 0.6}, {"fpr": 1.0, "tpr": 1.0}]}))
    write(repo / "eval/classes.csv", "actual,predicted\ncat,cat\ncat,dog\ndog,dog\ndog,dog\n")
    write(repo / "eval/importance.tsv", "feature\tweight\nage\t0.5\nincome\t0.3\n")
    write(repo / "eval/history.csv", "epoch,loss,acc\n1,0.9,0.5\n2,0.5,0.7\n3,0.4,0.8\n")
    write(repo / "gitml.yaml", """
plots:
  - eval/roc.json: {x: fpr, y: tpr, template: scatter, title: ROC}
  - eval/classes.csv: {template: confusion}
  - eval/importance.tsv: {template: bar, x: feature, y: weight}
  - eval/history.csv: {x: epoch, y_label: per epoch}
""")
    res = cli("plots", "show", "-o", "p.html")
    assert res.code == 0, res.err
    specs = [s["spec"] for s in specs_of((repo / "p.html").read_text())]
    kinds = [(s["usermeta"]["gitml"]["path"], s["usermeta"]["gitml"]["template"]) for s in specs]
    assert kinds == [("eval/roc.json", "scatter"), ("eval/classes.csv", "confusion"),
                     ("eval/importance.tsv", "bar"), ("eval/history.csv", "line"),
                     ("eval/history.csv", "line")]
    assert specs[0]["mark"]["type"] == "point"
    cells = {(r["actual"], r["predicted"]): r["count"] for r in specs[1]["data"]["values"]}
    assert cells == {("cat", "cat"): 1, ("cat", "dog"): 1, ("dog", "dog"): 2}
    assert [r["x"] for r in specs[2]["data"]["values"]] == ["age", "income"]
    assert specs[3]["layer"][0]["encoding"]["y"]["title"] == "per epoch"
    assert "ROC: workspace 3" in res.out and "eval/classes.csv: workspace 4" in res.out
    assert "eval/history.csv: loss: workspace 3" in res.out
    # a target narrows the page; declared settings still apply
    one = json.loads(cli("plots", "show", "eval/roc.json", "--json").out)
    assert [c["template"] for c in one["charts"]] == ["scatter"]
    # a simple series file needs no declaration at all
    write(repo / "other/s.csv", "step,value\n0,1\n1,2\n")
    adhoc = json.loads(cli("plots", "show", "other/s.csv", "--json").out)
    assert adhoc["charts"][0]["data"]["workspace"] == {"x": [0, 1], "y": [1.0, 2.0]}


def test_bad_series_are_drawn_or_reported(repo: Path, cli) -> None:
    metrics = repo / "gitml-live/plots/metrics"
    write(metrics / "loss.tsv", "step\tvalue\n0\t1.0\n1\tabc\n2\t0.5\n3\tnan\n")
    write(metrics / "empty.tsv", "step\tvalue\n")
    write(metrics / "nocol.tsv", "step\tloss\n0\t1\n")
    write(metrics / "words.tsv", "step\tvalue\n0\thigh\n1\tlow\n")
    write(metrics / "broken.json", "{not json")
    write(repo / "gitml.yaml", "plots:\n  - gitml-live/plots/metrics/nocol.tsv: {y: value}\n")
    res = cli("plots", "show")
    assert res.code == 0, res.err
    assert "Traceback" not in res.out + res.err
    notes = [line for line in res.out.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: nocol: workspace: no column 'value' (columns: step, loss)",
        "note: broken: workspace: cannot parse JSON: Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1)",
        "note: empty: workspace: empty series (no rows)",
        "note: loss: workspace: 1 non-numeric value skipped (first in row 2: 'abc'); "
        "1 NaN/inf value not drawn",
        "note: words: workspace: no numeric values in 'value'; 2 non-numeric values skipped "
        "(first in row 1: 'high')",
    ]
    page = (repo / ".gitml/tmp/plots.html").read_text()
    drawn = {s["spec"]["usermeta"]["gitml"]["path"] for s in specs_of(page)}
    assert drawn == {"gitml-live/plots/metrics/loss.tsv"}
    assert page.count("Nothing to draw at any revision.") == 4
    assert "1 non-numeric value skipped" in page


def test_a_declared_file_present_at_no_revision_is_reported(repo: Path, cli) -> None:
    write(repo / "eval/roc.csv", "fpr,tpr\n0,0\n1,1\n")
    write(repo / "gitml.yaml", "plots:\n  - eval/roc.csv: {x: fpr, y: tpr}\n"
                               "  - eval/roc_typo.csv: {x: fpr, y: tpr}\n")
    res = cli("plots", "show")
    assert res.code == 0, res.err
    assert "note: eval/roc_typo.csv: workspace: file not present" in res.out, res.out
    page = (repo / ".gitml/tmp/plots.html").read_text()
    assert page.count("Nothing to draw at any revision.") == 1


@pytest.mark.parametrize("yaml_text, message", [
    ("plots: 3\n", "plots: expected a list or a mapping of paths"),
    ("plots:\n  - a.csv: {template: pie}\n", "template must be one of line, scatter, bar"),
    ("plots:\n  - a.csv: {colour: red}\n", "unknown setting 'colour'"),
    ("plots:\n  - a.csv: {y: [1, 2]}\n", "y must be a field name or a list"),
    ("plots:\n  - ../outside.csv\n", "must be a relative path inside the repository"),
    ("plots:\n  - a.csv\n  - a.csv\n", "declared twice"),
    ("plots:\n  - a.csv: {x: [a]}\n", "x must be a non-empty string"),
    ("plots: [\n", "invalid YAML"),
])
def test_bad_plots_section(repo: Path, cli, yaml_text: str, message: str) -> None:
    write(repo / "gitml.yaml", yaml_text)
    res = cli("plots", "show")
    assert res.code == 2
    assert res.err.startswith("error: gitml.yaml") and message in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not (repo / ".gitml/tmp/plots.html").exists()


def test_usage_errors(runs: Path, cli) -> None:
    res = cli("plots", "diff", "main", "no-such-rev")
    assert res.code == 2 and "unknown revision 'no-such-rev'" in res.err
    res = cli("plots", "show", "-o", "plots.txt")
    assert res.code == 2 and "must end in .html, .png or .svg" in res.err
    res = cli("plots", "show", "-o", "missing/dir/p.html")
    assert res.code == 2 and "does not exist" in res.err
    res = cli("plots", "show", "nope.csv")
    assert res.code == 2 and "nope.csv: no series file there" in res.err
    res = cli("plots", "show", "../x.csv")
    assert res.code == 2 and "outside the repository" in res.err
    res = cli("report", "a", "b", "c")
    assert res.code == 2
    res = cli("report", "main", "-o", "r.pdf")
    assert res.code == 2 and ".md (Markdown + PNG) or .html" in res.err


def test_images(runs: Path, cli) -> None:
    res = cli("plots", "diff", "main", "exp-3", "-o", "cmp.png")
    assert res.code == 0, res.err
    assert (runs / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = cli("plots", "show", "-o", "ws.svg")
    assert res.code == 0 and (runs / "ws.svg").read_text().lstrip().startswith("<svg")


def test_long_series_are_downsampled_and_the_page_says_so(repo: Path, cli) -> None:
    rows = "".join(f"{i}\t{(i * 7919) % 1000 / 1000}\n" for i in range(10_000))
    write(repo / "gitml-live/plots/metrics/noisy.tsv", "step\tvalue\n" + rows)
    cli("plots", "show")
    spec = specs_of((repo / ".gitml/tmp/plots.html").read_text())[0]["spec"]
    assert lines_by_rev(spec) == {"workspace": 2000}
    ys = spec["layer"][0]["data"]["values"][0]["y"]
    assert min(ys) == 0.0 and max(ys) == 0.999  # the extremes survive
    page = (repo / ".gitml/tmp/plots.html").read_text()
    assert "downsampled for display (lowest and highest point per bucket): " \
           "workspace 10,000 → 2,000 points" in page
    cli("plots", "show", "--max-points", "0")
    spec = specs_of((repo / ".gitml/tmp/plots.html").read_text())[0]["spec"]
    assert lines_by_rev(spec) == {"workspace": 10_000}


def test_tracked_series_file_at_revisions(repo: Path, cli) -> None:
    write(repo / "results/curve.csv", "step,value\n0,1\n1,0.5\n")
    assert cli("add", "-q", "results/curve.csv").code == 0
    write(repo / "gitml.yaml", "plots:\n  - results/curve.csv\n")
    commit(repo, "v1", "v1")
    write(repo / "results/curve.csv", "step,value\n0,1\n1,0.25\n2,0.2\n")
    assert cli("add", "-q", "results/curve.csv").code == 0
    commit(repo, "v2")
    data = json.loads(cli("plots", "diff", "v1", "HEAD", "--json").out)
    chart = data["charts"][0]
    assert chart["path"] == "results/curve.csv"
    assert chart["data"] == {"v1": {"x": [0, 1], "y": [1.0, 0.5]},
                             "HEAD": {"x": [0, 1, 2], "y": [1.0, 0.25, 0.2]}}


def test_report_markdown_with_images(runs: Path, cli) -> None:
    res = cli("report", "main", "exp-3", "-o", "pr.md")
    assert res.code == 0, res.err
    md = (runs / "pr.md").read_text()
    assert md.startswith("# gitml report: main → exp-3")
    assert "| lr | 0.1 | 0.05 | -0.05 (-50.0%) |" in md
    assert "| train.loss | 0.169492 | 0.0404858 | -0.129006 (-76.1%) |" in md
    assert "| data/train.csv | added | — | 8 B |" in md
    assert "![train.loss](pr-plots/01-train.loss.png)" in md
    assert (runs / "pr-plots/01-train.loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "| main | 50 |" in md and "| exp-3 | 80 |" in md
    assert res.out.strip() == "Wrote pr.md and 1 image"


def test_report_html_json_and_stdout(runs: Path, cli) -> None:
    res = cli("report", "main", "exp-3", "-o", "pr.html")
    assert res.code == 0, res.err
    page = (runs / "pr.html").read_text()
    assert "<h2>Params</h2>" in page and "<h2>Data</h2>" in page
    assert [s["spec"]["usermeta"]["gitml"]["path"] for s in specs_of(page)] == [
        "gitml-live/plots/metrics/train.loss.tsv"]
    js = json.loads(cli("report", "main", "exp-3", "--json").out)
    assert js["params"]["rows"][0]["key"] == "lr"
    assert js["data"] == [{"path": "data/train.csv", "kind": "added", "old_size": None,
                           "new_size": 8, "note": ""}]
    out = cli("report", "main").out  # against the workspace, Markdown on stdout
    assert out.startswith("# gitml report: main → workspace")
    assert "val.acc" in out and "No tracked data changed." in out
    assert "![" not in out  # no images without a file to put them beside


def test_missing_extra_is_a_clear_message(runs: Path) -> None:
    code = ("import sys; sys.modules['vl_convert'] = None\n"
            "from gitml.cli.main import main; main(['plots', 'show'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=runs, capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: drawing charts needs the plots extra: "
                                   "pip install 'gitml[plots]'  (or: pip install "
                                   "vl-convert-python)")
