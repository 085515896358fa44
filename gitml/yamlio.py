"""The one bounded loader for every YAML, JSON and TOML file gitml reads, and one YAML dumper.

Every such file may come from a stranger (a fork, a pull request, a registry), so the loader
bounds what parsing it can cost before and while it parses (docs/formats.md, "Limits"):

- a size limit per kind of file, checked before anything is parsed;
- a nesting limit (:data:`MAX_DEPTH`). libyaml's composer recurses in C and overflows the
  stack near 20,000 levels, so a document whose cheap upper bound on its depth is over
  :data:`_SCAN_DEPTH` has its depth counted from the parser's events first;
- YAML aliases: refused in kinds that have no use for them (pointers, config, lock files);
  elsewhere the document is measured as if every alias were expanded, before any Python
  object is built, and refused past :data:`MAX_VALUES` (a 600-byte "billion laughs", or a
  chain of ``<<:`` merges, would otherwise take memory or time without bound);
- integers past Python's 4,300-digit limit, dates out of range and the like are a
  :class:`FormatError` naming the file, as is every syntax error (exit 2).
"""

from __future__ import annotations

import os
import re
from typing import Any, BinaryIO, NamedTuple

from gitml.errors import FormatError

MAX_DEPTH = 100  # nested mappings/lists; deeper documents are refused
MAX_VALUES = 1_000_000  # nodes of a YAML document with every alias expanded
_SCAN_DEPTH = 1000  # above this bound the depth is counted from parser events first


class Kind(NamedTuple):
    """What one kind of file may cost: bytes for YAML, for JSON/TOML, and whether YAML
    aliases (``&a``/``*a``, ``<<: *a``) are allowed."""

    label: str
    max_yaml: int
    max_other: int
    aliases: bool


KINDS: dict[str, Kind] = {
    "pointer": Kind("pointer file", 64 << 10, 64 << 10, False),
    "config": Kind("config file", 1 << 20, 1 << 20, False),
    "project": Kind("project file", 4 << 20, 4 << 20, True),  # gitml.yaml, dvc.yaml, ...
    "lock": Kind("lock file", 8 << 20, 8 << 20, False),
    "values": Kind("params or metrics file", 4 << 20, 16 << 20, True),
    "series": Kind("plot data file", 4 << 20, 64 << 20, True),
    "record": Kind("gitml record", 1 << 20, 16 << 20, False),  # run-cache entries, specs
}


def size_text(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n % (1 << 20) else (
        f"{n >> 10} KiB" if n >= 1 << 10 and not n % (1 << 10) else f"{n:,} bytes")


def limit(kind: str, syntax: str = "yaml") -> int:
    """The most bytes a file of ``kind`` in ``syntax`` may have."""
    k = KINDS[kind]
    return k.max_yaml if syntax == "yaml" else k.max_other


def check_size(n: int, source: str, kind: str, syntax: str = "yaml") -> None:
    """Refuse ``n`` bytes over the limit of ``kind`` before reading or parsing them."""
    most = limit(kind, syntax)
    if n > most:
        shown = f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else size_text(n)
        raise FormatError(source, f"{shown} is over the {size_text(most)} limit for a "
                                  f"{KINDS[kind].label}; not read")


def read(path: str, source: str, kind: str, syntax: str = "yaml") -> bytes:
    """The bytes of the file at ``path``; over the limit of ``kind``, a FormatError before
    reading (FileNotFoundError and other OSErrors pass through)."""
    with open(path, "rb") as f:
        return read_open(f, source, kind, syntax)


def read_open(f: BinaryIO, source: str, kind: str, syntax: str = "yaml") -> bytes:
    """:func:`read` of a file already open."""
    check_size(os.fstat(f.fileno()).st_size, source, kind, syntax)
    return f.read(limit(kind, syntax) + 1)  # a file growing meanwhile: loads refuses


def load(path: str, source: str, kind: str, syntax: str = "yaml") -> Any:
    """:func:`read` then :func:`loads`."""
    return loads(read(path, source, kind, syntax), source, kind, syntax)


def loads(text: str | bytes, source: str, kind: str = "values", syntax: str = "yaml") -> Any:
    """Parse ``text`` (YAML, or ``syntax`` json/toml) within the limits of ``kind``.

    Every problem is one :class:`FormatError` naming ``source``.
    """
    n = len(text)
    if isinstance(text, str) and n * 4 > limit(kind, syntax):
        n = len(text.encode("utf-8", "surrogatepass"))
    check_size(n, source, kind, syntax)
    try:
        if syntax == "yaml":
            return _yaml(text, source, KINDS[kind])
        if syntax == "json":
            import json

            doc = json.loads(text) if text.strip() else None
            _check_tree(doc, source, text.count(b"[" if isinstance(text, bytes) else "[")
                        + text.count(b"{" if isinstance(text, bytes) else "{"))
            return doc
        if syntax == "toml":
            import tomllib

            s = text.decode("utf-8") if isinstance(text, bytes) else text
            doc = tomllib.loads(s)
            _check_tree(doc, source, s.count("[") + s.count("{") + s.count("."))
            return doc
    except FormatError:
        raise
    except RecursionError:
        raise FormatError(source, f"nested more than {MAX_DEPTH} levels deep") from None
    except UnicodeDecodeError:
        raise FormatError(source, "not UTF-8 text") from None
    except (ValueError, OverflowError) as e:  # JSON/TOML syntax, huge integers, bad dates
        raise FormatError(source, f"cannot parse {syntax.upper()}: {_reason(e)}") from None
    raise ValueError(f"unknown syntax {syntax!r}")


def _reason(e: Exception) -> str:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "integer string conversion" in msg:
        return "an integer has more than 4,300 digits"
    return msg


def _check_tree(doc: Any, source: str, bound: int) -> None:
    """Refuse a parsed JSON/TOML document nested deeper than MAX_DEPTH (``bound``: a cheap
    upper bound on its depth; documents under the limit by it are not walked)."""
    if bound <= MAX_DEPTH:
        return
    level = [doc]
    for _ in range(MAX_DEPTH):
        nxt: list[Any] = []
        for c in level:
            nxt += [v for v in (c.values() if type(c) is dict else c)
                    if type(v) is dict or type(v) is list]
        if not nxt:
            return
        level = nxt
    raise FormatError(source, f"nested more than {MAX_DEPTH} levels deep")


# -- YAML ------------------------------------------------------------------------------

_LOADER: Any = None


def _loader_class() -> Any:
    """CSafeLoader (libyaml) whose composed node graph is measured before it is built."""
    global _LOADER
    if _LOADER is None:
        import yaml  # ~15 ms: only for commands that read YAML

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[misc, valid-type]
            gitml_check: Any = None

            def get_single_data(self) -> Any:
                node = self.get_single_node()
                if node is None:
                    return None
                if self.gitml_check is not None:
                    self.gitml_check(node)
                return self.construct_document(node)

        _LOADER = Loader
    return _LOADER


# Cheap scans that spare most files any extra work. A block collection starts at a line's
# indentation or after the line's leading "- ", "? ", ": " indicators, and a nested one
# starts further right at least every second level; a flow collection adds one level per
# bracket. So depth <= 2 * (longest such prefix + 1) + brackets <= 2 * (longest line + 1)
# + brackets. Lines start after every byte that can end one in YAML 1.1 (\n, \r, NEL, LS,
# PS; in UTF-8 bytes, their last byte): more line starts only make a scan more conservative.
_IN = (" \t?:-\ufeff", b" \t?:-\xef\xbb\xbf")  # a prefix's characters (a BOM counts too)
_PREFIX = (re.compile(r"[\n\r\x85\u2028\u2029][ \t?:\-\ufeff]*"),
           re.compile(rb"[\n\r\x85\xa8\xa9][ \t?:\-\xef\xbb\xbf]*"))
_DEEP = (re.compile(r"[\n\r\x85\u2028\u2029][ \t?:\-\ufeff]{24}"),
         re.compile(rb"[\n\r\x85\xa8\xa9][ \t?:\-\xef\xbb\xbf]{24}"))
# Anchors (&a) and aliases (*a) stand where a node starts: at a line's start, after an
# indicator (: ? , [ { -), a byte-order mark or a tag. Without both no node is shared.
_NODE = r"(?:^|[\n\r\x85\u2028\u2029:?,\[{\-\ufeff])[ \t]*(?:![^ \t]*[ \t]+)?"
_NODE_B = rb"(?:^|[\n\r\x85\xa8\xa9:?,\[{\-\xbf])[ \t]*(?:![^ \t]*[ \t]+)?"
_ANCHOR = (re.compile(_NODE + "&"), re.compile(_NODE_B + b"&"))
_ALIAS = (re.compile(_NODE + r"\*"), re.compile(_NODE_B + rb"\*"))
_CHARS = (("\n", "[", "{", "&", "*"), (b"\n", b"[", b"{", b"&", b"*"))


def _scan(text: str | bytes) -> tuple[int, bool]:
    """(an upper bound on the document's depth, whether any node may be an alias)."""
    b = int(isinstance(text, bytes))
    nl, sq, cu = _CHARS[b][:3]
    bound = len(text)  # each level takes at least one character
    if bound > MAX_DEPTH:
        brackets = text.count(sq) + text.count(cu)
        bound = 2 * max(map(len, text.split(nl))) + 3 + brackets  # split at \n only: longer
        if bound > MAX_DEPTH:
            first = len(text) - len(text.lstrip(_IN[b]))
            if brackets <= 51 and first < 24 and not _DEEP[b].search(text):
                return 2 * 23 + 3 + brackets, _shared(text)  # <= 100: one search, no list
            longest = max(first, max(map(len, _PREFIX[b].findall(text)), default=0))
            bound = 2 * longest + 3 + brackets
    return bound, _shared(text)


def _shared(text: str | bytes) -> bool:
    b = int(isinstance(text, bytes))
    amp, star = _CHARS[b][3:]
    return (amp in text and star in text and _ANCHOR[b].search(text) is not None
            and _ALIAS[b].search(text) is not None)


def _yaml(text: str | bytes, source: str, kind: Kind) -> Any:
    import yaml

    if isinstance(text, bytes) and text[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16
        text = text.decode("utf-16")
    bound, shared = _scan(text)
    try:
        if bound > _SCAN_DEPTH:
            _event_depth(text, source)
            bound = 0  # the depth is now known to be within MAX_DEPTH
        loader = _loader_class()(text)
        if shared or bound > MAX_DEPTH:
            loader.gitml_check = lambda node: _check_nodes(node, source, kind)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise FormatError(source, f"invalid YAML{where}: {problem}") from None
    except (ValueError, OverflowError) as e:  # a huge integer, a date out of range
        raise FormatError(source, f"invalid YAML: {_reason(e)}") from None


def _event_depth(text: str | bytes, source: str) -> None:
    """Count nesting from libyaml's events (iterative) before its recursive composer runs."""
    import yaml

    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    depth = 0
    for ev in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(ev, starts):
            depth += 1
            if depth > MAX_DEPTH:
                raise FormatError(source, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(ev, ends):
            depth -= 1


def _check_nodes(root: Any, source: str, kind: Kind) -> None:
    """Depth, aliases and expanded size of a composed YAML node graph (aliases are shared
    nodes): one post-order pass, each node's (values, height) computed once."""
    import yaml

    done: dict[int, tuple[int, int]] = {}  # id(node) -> (values when expanded, height)
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if not children_done:
            if key in done:
                if not kind.aliases:
                    raise FormatError(source, f"YAML aliases (*name) are not allowed in a "
                                              f"{kind.label}")
                continue
            if key in open_:
                raise FormatError(source, "a YAML alias refers to itself")
            if isinstance(node, yaml.ScalarNode):
                done[key] = (1, 0)
                continue
            open_.add(key)
            stack.append((node, True))
            if len(open_) > MAX_DEPTH:
                raise FormatError(source, f"nested more than {MAX_DEPTH} levels deep")
            stack += [(c, False) for c in _children(node)]
            continue
        open_.discard(key)
        values, height = 1, 0
        for c in _children(node):
            v, h = done[id(c)]
            values += v
            height = max(height, h)
        if values > MAX_VALUES:
            raise FormatError(source, f"more than {MAX_VALUES:,} values once YAML aliases "
                                      f"are expanded")
        done[key] = (values, height + 1)


def _children(node: Any) -> list[Any]:
    v = node.value
    if v and type(v[0]) is tuple:  # a mapping: (key, value) pairs
        return [n for pair in v for n in pair]
    return list(v)


def dumps(data: Any) -> str:
    """Block-style YAML with keys in insertion order."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True)
