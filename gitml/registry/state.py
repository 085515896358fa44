"""The registry's state, replayed from its tags (one ``git for-each-ref`` call).

Events are ordered by the tagger's time, then the tag's counter, then GTO's action
priority. A stage is held by the version whose assignment to it is the most recent
one still in effect (not unassigned, version not deregistered): promoting an older
version again is a rollback. ``latest`` is the greatest active semantic version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from gitml import gitio
from gitml.registry import grammar as g

_FIELDS = ["%(refname)", "%(objecttype)", "%(*objecttype)", "%(*objectname)",
           "%(taggername)", "%(taggeremail)", "%(taggerdate:raw)", "%(contents)"]
TRAILER_PREFIX = "Gitml-"
_TRAILER_RE = re.compile(r"^Gitml-([A-Za-z-]+): (.*)$")


@dataclass(frozen=True)
class Event:
    """One registry tag: what was done, to which commit, by whom, when, and why."""

    action: str
    model: str
    tag: str
    commit: str
    who: str
    email: str
    when: int  # seconds since the epoch
    tz: str  # the tagger's offset, "+0200"
    message: str  # the user's text, without gitml's trailers
    trailers: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    stage: str | None = None
    counter: int | None = None

    @property
    def time(self) -> datetime:
        sign = -1 if self.tz.startswith("-") else 1
        try:
            offset = timedelta(hours=int(self.tz[1:3]), minutes=int(self.tz[3:5])) * sign
        except ValueError:
            offset = timedelta(0)
        return datetime.fromtimestamp(self.when, timezone(offset))

    @property
    def order(self) -> tuple[int, int, int, str]:
        return self.when, self.counter or 0, g.PRIORITY[self.action], self.tag

    def to_dict(self, version: str | None = None) -> dict[str, Any]:
        return {"action": self.action, "version": version or self.version, "stage": self.stage,
                "tag": self.tag, "commit": self.commit, "who": self.who, "email": self.email,
                "when": self.time.isoformat(), "message": self.message}


@dataclass
class Version:
    """A registered version (or, for a stage assigned to an unregistered commit, the commit)."""

    name: str
    commit: str
    registered: Event | None = None
    deregistered: Event | None = None
    stages: list[str] = field(default_factory=list)  # stages it holds now
    # stage -> order of the assignment in effect (None once unassigned)
    assigned: dict[str, tuple[int, int, int, str] | None] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.deregistered is None

    @property
    def is_semver(self) -> bool:
        return self.registered is not None and g.is_semver(self.name)

    @property
    def path(self) -> str | None:
        """The model path recorded when gitml registered it (None for GTO's tags)."""
        return self.registered.trailers.get("path") if self.registered else None


@dataclass
class Model:
    """One model's versions, current stages and full history."""

    name: str
    versions: dict[str, Version] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    deprecated: bool = False
    stages: dict[str, str] = field(default_factory=dict)  # stage -> version name
    max_counter: int = 0

    @property
    def latest(self) -> str | None:
        names = [v.name for v in self.versions.values() if v.active and v.is_semver]
        return max(names, key=g.version_key) if names else None

    def active_at(self, commit: str) -> Version | None:
        """The active registered version at ``commit`` (the greatest when several)."""
        hits = [v for v in self.versions.values()
                if v.commit == commit and v.active and v.registered is not None]
        return max(hits, key=lambda v: g.version_key(v.name)) if hits else None

    def sorted_versions(self) -> list[Version]:
        """Semantic versions, greatest first, then unregistered commits."""
        sem = sorted((v for v in self.versions.values() if v.is_semver),
                     key=lambda v: g.version_key(v.name), reverse=True)
        return sem + [v for v in self.versions.values() if not v.is_semver]


def split_message(text: str) -> tuple[str, dict[str, str]]:
    """(user message, gitml trailers) of a tag message."""
    body = text.rstrip("\n")
    head, sep, last = body.rpartition("\n\n")
    if not sep:
        head, last = "", body
    lines = last.splitlines()
    matches = [_TRAILER_RE.match(line) for line in lines]
    if not lines or not all(matches):
        return body, {}
    return head.rstrip("\n"), {m.group(1).lower(): m.group(2).strip() for m in matches if m}


def join_message(message: str, trailers: dict[str, str]) -> str:
    lines = [f"{TRAILER_PREFIX}{k.capitalize()}: {v}" for k, v in trailers.items()]
    return (message.rstrip("\n") + "\n\n" if message.strip() else "") + "\n".join(lines) + "\n"


def read_events(root: str) -> tuple[list[Event], dict[str, int]]:
    """Every annotated registry tag as an event (ordered), and each model's highest counter."""
    events: list[Event] = []
    counters: dict[str, int] = {}
    for ref, otype, target_type, target, who, email, date, contents in gitio.for_each_ref(
            root, "refs/tags", _FIELDS):
        name = ref[len("refs/tags/"):]
        parsed = g.parse_tag(name)
        if parsed is None:
            continue
        if parsed.counter is not None:
            counters[parsed.model] = max(counters.get(parsed.model, 0), parsed.counter)
        # GTO reads annotated tags of commits only: a lightweight tag has no who/when/why
        if otype != "tag" or target_type != "commit":
            continue
        when, _, tz = date.partition(" ")
        message, trailers = split_message(contents)
        events.append(Event(parsed.action, parsed.model, name, target, who,
                            email.strip("<>"), int(when or 0), tz or "+0000", message, trailers,
                            parsed.version, parsed.stage, parsed.counter))
    events.sort(key=lambda e: e.order)
    return events, counters


def load(root: str) -> dict[str, Model]:
    """Every model that has registry tags, by name."""
    events, counters = read_events(root)
    models: dict[str, Model] = {}
    for e in events:
        m = models.get(e.model)
        if m is None:
            m = models[e.model] = Model(e.model)
        _apply(m, e)
    for name, n in counters.items():
        models.setdefault(name, Model(name)).max_counter = n
    for m in models.values():
        _resolve_stages(m)
    return models


def _apply(m: Model, e: Event) -> None:
    m.events.append(e)
    if e.action in (g.DEPRECATE, g.CREATE):
        m.deprecated = e.action == g.DEPRECATE
        return
    m.deprecated = False  # any later action brings a deprecated model back (as GTO does)
    if e.action in (g.REGISTER, g.DEREGISTER):
        assert e.version is not None
        v = m.versions.get(e.version)
        if v is None:
            v = m.versions[e.version] = Version(e.version, e.commit)
        if e.action == g.REGISTER and v.registered is None:
            v.registered, v.commit = e, e.commit
        elif e.action == g.DEREGISTER and v.deregistered is None:
            v.deregistered = e
        return
    assert e.stage is not None
    v = m.active_at(e.commit) or next(
        (x for x in m.versions.values() if x.commit == e.commit), None)
    if v is None:  # GTO allows a stage on a commit that has no registered version
        v = m.versions[e.commit] = Version(e.commit, e.commit)
    v.assigned[e.stage] = e.order if e.action == g.ASSIGN else None


def _resolve_stages(m: Model) -> None:
    best: dict[str, tuple[tuple[int, int, int, str], Version]] = {}
    for v in m.versions.values():
        if not v.active:
            continue
        for stage, order in v.assigned.items():
            if order is not None and (stage not in best or order > best[stage][0]):
                best[stage] = (order, v)
    for stage in sorted(best):
        v = best[stage][1]
        m.stages[stage] = v.name
        v.stages.append(stage)


def version_of(m: Model, e: Event) -> str | None:
    """The version a stage event applied to (for history output)."""
    if e.version:
        return e.version
    for v in m.versions.values():
        if v.commit == e.commit and v.registered and v.registered.order <= e.order:
            return v.name
    return e.commit[:12] if e.stage else None
