"""Images the training logger saved (``gitml-live/plots/images/<name>/<step>.<ext>``), per
step and revision, for ``plots show/diff`` pages and ``gitml ui``.

Files are listed and read through the same reader as the series (a Git blob, a tracked
file or the workspace). Only PNG, JPEG, GIF and WebP bytes (told by their first bytes, not
their name) are shown: an SVG can carry script.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Any

from gitml.errors import GitmlError
from gitml.live.images import EXTS, kind_of
from gitml.plots.series import Rev, list_files
from gitml.readapi import RevReader
from gitml.repo import Repo

IMAGES = "gitml-live/plots/images"
MAX_STEPS = 40  # per image and revision on a page; evenly spaced, the last one kept
MIME = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def is_image(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in EXTS and name.rsplit("/", 1)[-1].split(".")[
        0].isdigit()


@dataclass
class ImageSeries:
    """One logged image name: per revision label, (step, repository path) pairs."""

    name: str
    at: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name,
                "revisions": {rev: [s for s, _ in steps] for rev, steps in self.at.items()}}


def collect(repo: Repo, revs: list[Rev], reader: RevReader | None = None) -> list[ImageSeries]:
    own = reader is None
    reader = reader or RevReader(repo)
    try:
        by_name: dict[str, ImageSeries] = {}
        for rev in revs:
            for path in list_files(repo, reader, rev, IMAGES, want=is_image) or []:
                rel = path[len(IMAGES) + 1:]
                name, _, file = rel.rpartition("/")
                if not name:
                    continue
                series = by_name.setdefault(name, ImageSeries(name))
                series.at.setdefault(rev.label, []).append((int(file.split(".")[0]), path))
        for s in by_name.values():
            for steps in s.at.values():
                steps.sort()
        return [by_name[n] for n in sorted(by_name)]
    finally:
        if own:
            reader.close()


def read(reader: RevReader, rev: Rev, path: str) -> tuple[bytes, str] | None:
    """(bytes, mime) of an image at ``rev``; None when missing or not an image."""
    try:
        data = reader.read_bytes(path, rev.sha)
    except GitmlError:
        return None
    kind = kind_of(data)
    return (data, MIME[kind]) if kind else None


def thin(steps: list[tuple[int, str]], n: int = MAX_STEPS) -> list[tuple[int, str]]:
    if len(steps) <= n:
        return steps
    picked = {round(i * (len(steps) - 1) / (n - 1)) for i in range(n)}
    return [steps[i] for i in sorted(picked)]


_SCRIPT = """
(function () {
  document.querySelectorAll('.imgset').forEach(function (set) {
    var slider = set.querySelector('input');
    var show = function () {
      var want = Number(slider.value);
      set.querySelector('.step').textContent = 'step ' + want;
      set.querySelectorAll('figure').forEach(function (fig) {
        var best = null;
        fig.querySelectorAll('img').forEach(function (img) {
          var s = Number(img.getAttribute('data-step'));
          var b = best === null ? -1 : Number(best.getAttribute('data-step'));
          if (s <= want && s > b) best = img;
          img.style.display = 'none';
        });
        if (best) best.style.display = '';
        fig.querySelector('figcaption .at').textContent =
          best ? ' (step ' + best.getAttribute('data-step') + ')' : ' (none yet)';
      });
    };
    slider.addEventListener('input', show);
    show();
  });
})();
"""


def html_section(repo: Repo, revs: list[Rev], series: list[ImageSeries]) -> str:
    """Images with a step slider: one figure per revision, the image at or before the step."""
    if not series:
        return ""
    parts = ["<h2>Images</h2>"]
    with RevReader(repo) as reader:
        for s in series:
            all_steps = sorted({st for steps in s.at.values() for st, _ in thin(steps)})
            figs = []
            notes = []
            for rev in revs:
                steps = s.at.get(rev.label, [])
                shown = thin(steps)
                if len(shown) < len(steps):
                    notes.append(f"{rev.label}: {len(shown)} of {len(steps)} steps shown")
                imgs = []
                for step, path in shown:
                    got = read(reader, rev, path)
                    if got is None:
                        continue
                    data, mime = got
                    imgs.append(f'<img data-step="{step}" alt="{html.escape(s.name)} step '
                                f'{step}" src="data:{mime};base64,'
                                f'{base64.b64encode(data).decode()}">')
                figs.append(f"<figure><figcaption>{html.escape(rev.label)}<span class=\"at\">"
                            f"</span></figcaption>{''.join(imgs)}</figure>")
            last = all_steps[-1] if all_steps else 0
            note_html = ("<ul class=\"notes\">" + "".join(f"<li>{html.escape(n)}</li>"
                                                          for n in notes) + "</ul>"
                         if notes else "")
            parts.append(
                f'<section class="imgset" data-name="{html.escape(s.name)}"><h3>'
                f"{html.escape(s.name)} <small class=\"step\"></small></h3>"
                f'<input type="range" min="{all_steps[0] if all_steps else 0}" max="{last}" '
                f'value="{last}" step="1">'
                f'<div class="imgs">{"".join(figs)}</div>{note_html}</section>')
    return "".join(parts) + f"<script>{_SCRIPT}</script>" + \
        "<style>.imgs{display:flex;gap:12px;flex-wrap:wrap}.imgs img{max-width:300px;" \
        "border:1px solid #ddd;image-rendering:pixelated}.imgset input{width:60%}</style>"
