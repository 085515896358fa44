"""Custom Vega-Lite templates: ``gitml plots templates [--init]`` and ``template: NAME``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write
from test_plots import lines_by_rev, run, specs_of

TPL = ".gitml/plots/templates"


def test_list_and_init_write_the_builtins(repo: Path, cli) -> None:
    res = cli("plots", "templates", "--json")
    assert res.code == 0, res.err
    rows = json.loads(res.out)
    assert [(r["name"], r["kind"], r["source"]) for r in rows] == [
        ("line", "line", "built-in"), ("scatter", "scatter", "built-in"),
        ("bar", "bar", "built-in"), ("confusion", "confusion", "built-in")]
    res = cli("plots", "templates", "--init", "line")
    assert res.code == 0 and res.out == f"written: {TPL}/line.json\n"
    text = (repo / TPL / "line.json").read_text()
    assert '"<GITML_DATA_COMPACT>"' in text and '"<GITML_HOVER_TOOLTIP>"' in text
    (repo / TPL / "line.json").write_text(text.replace('"strokeWidth": 1.5', '"strokeWidth": 4'))
    res = cli("plots", "templates", "--init")
    assert res.code == 0
    assert f"kept: {TPL}/line.json (exists; --force overwrites it)" in res.out
    assert f"written: {TPL}/confusion.json" in res.out
    assert '"strokeWidth": 4' in (repo / TPL / "line.json").read_text()  # an edit is kept
    listing = cli("plots", "templates").out
    assert f"{TPL}/line.json (replaces the built-in)" in listing
    assert cli("plots", "templates", "--init", "line", "--force").code == 0
    assert '"strokeWidth": 1.5' in (repo / TPL / "line.json").read_text()
    res = cli("plots", "templates", "--init", "pie")
    assert res.code == 2 and res.err.startswith("error: no built-in template 'pie'")


def test_unedited_templates_draw_exactly_the_builtin_charts(repo: Path, cli) -> None:
    run(repo, 40, 0.1)
    write(repo / "eval/classes.csv", "actual,predicted\ncat,cat\ncat,dog\ndog,dog\n")
    write(repo / "eval/imp.tsv", "feature\tweight\nage\t0.5\nincome\t0.3\n")
    write(repo / "gitml.yaml", "plots:\n  - gitml-live/plots/metrics\n"
                               "  - eval/classes.csv: {template: confusion}\n"
                               "  - eval/imp.tsv: {template: bar}\n")
    assert cli("plots", "show", "-o", "a.html").code == 0
    assert cli("plots", "templates", "--init").code == 0
    assert cli("plots", "show", "-o", "b.html").code == 0
    a = specs_of((repo / "a.html").read_text())
    b = specs_of((repo / "b.html").read_text())
    assert a == b and len(a) == 3


def test_a_plot_names_a_custom_template(repo: Path, cli) -> None:
    run(repo, 30, 0.1)
    write(repo / TPL / "area.json", json.dumps({
        "usermeta": {"gitml": {"kind": "line"}},
        "width": "container", "height": 200,
        "title": "<GITML_TITLE>",
        "data": {"values": "<GITML_DATA>"},
        "mark": "area",
        "encoding": {"x": {"field": "x", "type": "quantitative", "title": "<GITML_X_LABEL>"},
                     "y": {"field": "y", "type": "quantitative"},
                     "color": {"field": "rev", "scale": {"domain": "<GITML_REVS>"}}}}))
    write(repo / "gitml.yaml", "plots:\n  - gitml-live/plots/metrics/train.loss.tsv:\n"
                               "      template: area\n      title: 'Loss \"</script><b>'\n")
    res = cli("plots", "show", "-o", "p.html")
    assert res.code == 0, res.err
    (spec,) = [s["spec"] for s in specs_of((repo / "p.html").read_text())]
    assert spec["mark"] == "area" and spec["height"] == 200
    assert spec["title"] == 'Loss "</script><b>'  # a value in the JSON, not spliced text
    assert spec["encoding"]["color"]["scale"]["domain"] == ["workspace"]
    assert len(spec["data"]["values"]) == 30 and set(spec["data"]["values"][0]) == {
        "rev", "x", "y"}
    assert spec["usermeta"]["gitml"]["template"] == "area"
    assert "</script><b>" not in (repo / "p.html").read_text().split("gitml-specs")[1]
    listing = json.loads(cli("plots", "templates", "--json").out)
    assert {"name": "area", "kind": "line", "source": f"{TPL}/area.json",
            "replaces_builtin": False} in listing
    # PNG through the same template
    assert cli("plots", "show", "-o", "p.png").code == 0
    assert (repo / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_an_edited_builtin_replaces_it(repo: Path, cli) -> None:
    run(repo, 30, 0.1)
    assert cli("plots", "templates", "--init", "line").code == 0
    path = repo / TPL / "line.json"
    path.write_text(path.read_text().replace('"strokeWidth": 1.5', '"strokeWidth": 6'))
    assert cli("plots", "show", "-o", "p.html").code == 0
    (spec,) = [s["spec"] for s in specs_of((repo / "p.html").read_text())]
    assert spec["layer"][0]["mark"]["strokeWidth"] == 6
    assert lines_by_rev(spec) == {"workspace": 30}


@pytest.mark.parametrize("content, message", [
    ("{not json", "template is not valid JSON"),
    ("[1, 2]", "a template is a JSON object"),
    ('{"mark": "line"}', "the template has no data anchor"),
    ('{"data": {"values": "<GITML_DATA>"}, "title": "<GITML_TITEL>"}',
     "unknown anchor <GITML_TITEL>"),
    ('{"data": {"values": "<GITML_DATA>"}, "usermeta": {"gitml": {"kind": "pie"}}}',
     "usermeta.gitml.kind must be one of line, scatter, bar, confusion"),
])
def test_a_broken_template_is_one_line_exit_2(repo: Path, cli, content: str,
                                              message: str) -> None:
    run(repo, 5, 0.1)
    write(repo / TPL / "mine.json", content)
    write(repo / "gitml.yaml", "plots:\n  - gitml-live/plots/metrics: {template: mine}\n")
    res = cli("plots", "show")
    assert res.code == 2
    assert res.err == f"error: {TPL}/mine.json: {message}" or (
        res.err.startswith(f"error: {TPL}/mine.json: {message}")
        and len(res.err.strip().splitlines()) == 1), res.err
    assert not (repo / ".gitml/tmp/plots.html").exists()


def test_an_unknown_template_names_the_entry_and_the_choices(repo: Path, cli) -> None:
    run(repo, 5, 0.1)
    write(repo / TPL / "area.json", '{"data": {"values": "<GITML_DATA>"}}')
    write(repo / "gitml.yaml", "plots:\n  - gitml-live/plots/metrics: {template: pie}\n")
    res = cli("plots", "show")
    assert res.code == 2
    assert res.err.strip() == (
        "error: gitml.yaml: plots.gitml-live/plots/metrics/train.loss.tsv: template must be one "
        "of line, "
        f"scatter, bar, confusion or a file in {TPL}/ (area), not 'pie'")
    write(repo / "gitml.yaml", "plots:\n  - gitml-live/plots/metrics: {template: ../x}\n")
    res = cli("plots", "show")
    assert res.code == 2 and "template must be one of" in res.err
