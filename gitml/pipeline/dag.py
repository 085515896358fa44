"""The stage graph: edges from outputs to the deps that read them, checks, order, drawing."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from gitml.errors import BadInputError
from gitml.pipeline.schema import Stage


class PipelineError(BadInputError):
    """The stages do not form a valid pipeline (cycle, clashing outputs, missing dep)."""


@dataclass
class Pipeline:
    """Stages in file order, with ``upstream[name]`` = the stages whose outputs it reads."""

    stages: dict[str, Stage]
    upstream: dict[str, list[str]] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # out path -> stage

    @classmethod
    def build(cls, stages: list[Stage]) -> Pipeline:
        p = cls({s.name: s for s in stages})
        p._index_outs()
        p._link()
        p._check_cycles()
        return p

    # -- construction -------------------------------------------------------------
    def _index_outs(self) -> None:
        for s in self.stages.values():
            for o in s.outs:
                other = self.owner.get(o.path)
                if other is not None:
                    raise PipelineError(f"stages {other!r} and {s.name!r} both write {o.path}")
                self.owner[o.path] = s.name
        paths = sorted(self.owner)
        for a, b in zip(paths, paths[1:], strict=False):
            if b.startswith(a + "/"):
                raise PipelineError(f"output {b} of stage {self.owner[b]!r} is inside output "
                                    f"{a} of stage {self.owner[a]!r}")
        self._sorted = paths

    def producers(self, path: str) -> list[str]:
        """Stages writing ``path``, a directory containing it, or files inside it."""
        hits: list[str] = []
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            owner = self.owner.get("/".join(parts[:i]))
            if owner is not None:
                hits.append(owner)
        prefix = path + "/"
        i = bisect.bisect_left(self._sorted, prefix)
        while i < len(self._sorted) and self._sorted[i].startswith(prefix):
            hits.append(self.owner[self._sorted[i]])
            i += 1
        return list(dict.fromkeys(hits))

    def _link(self) -> None:
        for s in self.stages.values():
            ups: list[str] = []
            for dep in s.deps:
                for owner in self.producers(dep):
                    if owner == s.name:
                        raise PipelineError(f"stage {s.name!r} depends on {dep}, which overlaps "
                                            "its own output")
                    if owner not in ups:
                        ups.append(owner)
            self.upstream[s.name] = ups

    def _check_cycles(self) -> None:
        state: dict[str, int] = {}  # 1 visiting, 2 done
        for start in self.stages:
            if state.get(start):
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            path: list[str] = []
            while stack:
                node, i = stack.pop()
                if i == 0:
                    state[node] = 1
                    path.append(node)
                ups = self.upstream[node]
                if i < len(ups):
                    stack.append((node, i + 1))
                    nxt = ups[i]
                    if state.get(nxt) == 1:
                        cycle = path[path.index(nxt):] + [nxt]
                        raise PipelineError("the pipeline has a cycle: "
                                            + " -> ".join(reversed(cycle)))
                    if not state.get(nxt):
                        stack.append((nxt, 0))
                else:
                    state[node] = 2
                    path.pop()

    # -- queries --------------------------------------------------------------------
    def resolve(self, targets: list[str]) -> list[str]:
        """Stage names for targets: a stage, or a foreach/matrix group name."""
        import difflib

        names: list[str] = []
        for t in targets:
            if t in self.stages:
                hits = [t]
            else:
                hits = [n for n, s in self.stages.items() if s.group == t]
            if not hits:
                close = difflib.get_close_matches(t, list(self.stages), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise BadInputError(f"no stage named {t!r} in gitml.yaml{hint}")
            names.extend(h for h in hits if h not in names)
        return names

    def closure(self, names: list[str]) -> set[str]:
        """``names`` and everything upstream of them."""
        return _reach(names, self.upstream)

    def order(self, names: set[str] | None = None) -> list[str]:
        """Topological order of ``names`` (default all), stable with the file order."""
        wanted = set(self.stages) if names is None else names
        done: set[str] = set()
        out: list[str] = []
        pending = [n for n in self.stages if n in wanted]
        while pending:
            progressed = False
            for n in list(pending):
                if all(u in done or u not in wanted for u in self.upstream[n]):
                    out.append(n)
                    done.add(n)
                    pending.remove(n)
                    progressed = True
            if not progressed:  # unreachable: cycles are refused at build time
                raise PipelineError("the pipeline has a cycle")
        return out

    def descendants(self, names: list[str]) -> set[str]:
        """``names`` and every stage that reads, directly or not, what they write."""
        return _reach(names, self.downstream())

    def select(self, targets: list[str] | None, single_item: bool = False,
               downstream: bool = False) -> list[str]:
        """Stages to consider for ``repro``, in order: the targets and what they depend on
        (``single_item``: the targets alone; ``downstream``: the targets and what depends
        on them)."""
        if not targets:
            return self.order()
        names = self.resolve(targets)
        if downstream:
            return self.order(self.descendants(names))
        return self.order(set(names) if single_item else self.closure(names))

    def downstream(self) -> dict[str, list[str]]:
        down: dict[str, list[str]] = {n: [] for n in self.stages}
        for n, ups in self.upstream.items():
            for u in ups:
                down[u].append(n)
        return down

    # -- drawing ----------------------------------------------------------------------
    def to_dict(self, names: list[str] | None = None) -> dict[str, Any]:
        names = names or self.order()
        return {"stages": [self.stages[n].to_dict() for n in names],
                "edges": [[u, n] for n in names for u in self.upstream[n] if u in names]}

    def text(self, names: list[str] | None = None) -> str:
        """The graph as indented trees from its roots; a stage drawn twice says so."""
        names = names or self.order()
        keep = set(names)
        down = {n: [d for d in ds if d in keep] for n, ds in self.downstream().items()}
        roots = [n for n in names if not any(u in keep for u in self.upstream[n])]
        lines: list[str] = []
        shown: set[str] = set()

        def draw(node: str, prefix: str, last: bool, top: bool) -> None:
            mark = "" if top else ("└── " if last else "├── ")
            again = node in shown
            lines.append(prefix + mark + node + (" (see above)" if again else ""))
            if again:
                return
            shown.add(node)
            kids = down[node]
            ext = "" if top else ("    " if last else "│   ")
            for i, k in enumerate(kids):
                draw(k, prefix + ext, i == len(kids) - 1, False)

        for r in roots:
            draw(r, "", True, True)
        return "\n".join(lines)

    def mermaid(self, names: list[str] | None = None) -> str:
        names = names or self.order()
        ids = {n: f"s{i}" for i, n in enumerate(names)}
        lines = ["flowchart TD"]
        lines += [f'    {ids[n]}["{n}"]' for n in names]
        lines += [f"    {ids[u]} --> {ids[n]}" for n in names for u in self.upstream[n]
                  if u in ids]
        return "\n".join(lines)

    def dot(self, names: list[str] | None = None) -> str:
        names = names or self.order()
        keep = set(names)
        lines = ["strict digraph {"]
        lines += [f'    "{n}";' for n in names]
        lines += [f'    "{u}" -> "{n}";' for n in names for u in self.upstream[n] if u in keep]
        lines.append("}")
        return "\n".join(lines)


def _reach(names: list[str], edges: dict[str, list[str]]) -> set[str]:
    """``names`` and every node reachable from them along ``edges``."""
    seen: set[str] = set()
    stack = list(names)
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(edges[n])
    return seen
