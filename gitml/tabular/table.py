"""A readable table: one file or a directory of parts, read a row group at a time.

Parquet parts are read by row group (their footers give the schema and row counts without
reading data); CSV parts by block, except small CSV files (<= 256 MiB), read whole so
column types are inferred from every row. Parts of a directory are unified into one schema;
``key=value`` directories add columns.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gitml.errors import BadInputError, FormatError, GitmlError

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_EXT = (".parquet", ".parq", ".pq")
CSV_EXT = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}
CSV_WHOLE_LIMIT = 256 << 20  # CSV up to this size is read whole (types from every row)
MAX_COLUMNS = 10_000  # wider tables are refused: reading one costs memory per column
CSV_HEADER_BYTES = 4 << 20  # a CSV header row longer than this is refused
_HIVE = re.compile(r"^([^=/]+)=([^/]*)$")


class EmptyTableError(GitmlError):
    """A table with no columns, or no rows where rows are needed."""


@dataclass(frozen=True)
class Part:
    """One file of a table: a local file (workspace or store) or the bytes of a Git blob."""

    rel: str  # path inside the data set ("" when the table is one file)
    path: str | None = None
    data: bytes | None = None
    partition: dict[str, str] = field(default_factory=dict)

    def source(self) -> Any:
        import pyarrow as pa

        return self.path if self.path is not None else pa.BufferReader(self.data or b"")


def _split_ext(name: str) -> tuple[str, str | None]:
    """(format extension, compression) of a file name, e.g. ('.csv', 'gzip')."""
    low = name.lower()
    root, ext = os.path.splitext(low)
    comp = COMPRESSION.get(ext)
    if comp:
        ext = os.path.splitext(root)[1]
    return ext, comp


def format_of(name: str) -> str | None:
    ext, _ = _split_ext(name)
    if ext in PARQUET_EXT:
        return "parquet"
    if ext in CSV_EXT:
        return "csv"
    return None


class Table:
    """A readable table: one file or a directory of parts, all of one format."""

    def __init__(self, name: str, fmt: str, parts: list[Part], logical: str) -> None:
        self.name = name  # for messages, e.g. "main:data/x.parquet"
        self.fmt = fmt
        self.parts = parts
        self.logical = logical  # the file or directory name, for extension and delimiter

    # -- schema and size ----------------------------------------------------------------
    @cached_property
    def _metas(self) -> list[Any]:
        import pyarrow.parquet as pq

        out = []
        for p in self.parts:
            try:
                out.append(pq.read_metadata(p.source()))
            except Exception as e:  # noqa: BLE001 - any reader failure is the file's fault
                raise FormatError(self._where(p), f"not a valid Parquet file ({_short(e)})"
                                  ) from None
        return out

    @cached_property
    def _csv_schema(self) -> pa.Schema:
        reader = self._csv_reader(self.parts[0], None)
        schema = reader.schema
        reader.close()
        return schema

    @cached_property
    def schema(self) -> pa.Schema:
        """The unified schema: every part's columns, then partition columns."""
        import pyarrow as pa

        if self.fmt == "parquet":
            schemas = [m.schema.to_arrow_schema() for m in self._metas]
            try:
                base = pa.unify_schemas(schemas, promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise FormatError(self.name, f"parts have incompatible schemas ({_short(e)})"
                                  ) from None
        else:
            base = self._csv_schema
        base = pa.schema([f.remove_metadata() for f in base]).remove_metadata()
        if len(base) > MAX_COLUMNS:
            raise FormatError(self.name, f"{len(base):,} columns; gitml reads tables of at "
                                         f"most {MAX_COLUMNS:,} columns")
        if len(base) == 0:
            raise EmptyTableError(f"{self.name}: the table has no columns")
        for key, typ in self._partition_types().items():
            if key not in base.names:
                base = base.append(pa.field(key, typ))
        return base

    def _partition_types(self) -> dict[str, Any]:
        import pyarrow as pa

        keys: dict[str, list[str]] = {}
        for p in self.parts:
            for k, v in p.partition.items():
                keys.setdefault(k, []).append(v)
        return {k: pa.int64() if all(re.fullmatch(r"-?\d{1,18}", v) for v in vals)
                else pa.string() for k, vals in keys.items()}

    @property
    def num_rows(self) -> int | None:
        """Known without reading the data for Parquet; None for CSV."""
        if self.fmt == "parquet":
            return sum(m.num_rows for m in self._metas)
        return None

    @property
    def nbytes_estimate(self) -> int:
        """Rough in-memory size once decoded (Parquet: uncompressed column chunk sizes)."""
        if self.fmt == "parquet":
            total = 0
            for m in self._metas:
                for i in range(m.num_row_groups):
                    total += m.row_group(i).total_byte_size
            return total
        size = 0
        for p in self.parts:
            size += os.path.getsize(p.path) if p.path else len(p.data or b"")
        return size * 2

    # -- reading ------------------------------------------------------------------------
    def chunks(self, columns: list[str] | None = None, dictionary: list[str] | None = None
               ) -> Iterator[pa.Table]:
        """The table as a stream of tables, one row group (or CSV block) each, in order.

        The next chunk is read in a background thread while the caller works on this one.
        ``dictionary``: as in :meth:`read` (single Parquet files only).
        """
        schema = self._select(columns)
        pool = ThreadPoolExecutor(1)
        enc = dictionary if dictionary and self._single_parquet() else None
        try:
            gen = self._raw_chunks(schema, enc)
            fut = pool.submit(next, gen, None)
            while True:
                chunk = fut.result()
                if chunk is None:
                    return
                fut = pool.submit(next, gen, None)
                yield chunk
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def read(self, columns: list[str] | None = None, dictionary: list[str] | None = None
             ) -> pa.Table:
        """The whole table in memory (use for tables known to fit).

        Columns in ``dictionary`` that `dictionary_columns` offers come back
        dictionary-encoded as stored (cheaper to decode, take and compare).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = self._select(columns)
        if self._single_parquet():
            p = self.parts[0]
            try:
                # memory-mapped: no copy of the compressed file into fresh (page-faulting)
                # memory; store objects are immutable, workspace files replaced by rename
                t = pq.read_table(p.source(), columns=schema.names, use_threads=True,
                                  memory_map=p.path is not None,
                                  read_dictionary=dictionary or None)
            except Exception as e:  # noqa: BLE001
                raise FormatError(self._where(p), f"cannot read Parquet ({_short(e)})") from None
            return _conform(t, schema, self._where(p), keep_dictionary=True)
        chunks = list(self._raw_chunks(schema))
        return pa.concat_tables(chunks) if chunks else schema.empty_table()

    def _single_parquet(self) -> bool:
        return self.fmt == "parquet" and len(self.parts) == 1 and not self.parts[0].partition

    def dictionary_columns(self, max_dict_bytes: int = 256 << 10) -> list[str]:
        """String columns stored with small dictionaries in every row group (Parquet).

        Reading those as dictionaries skips building millions of equal strings.
        """
        import pyarrow as pa

        if not self._single_parquet():
            return []
        md = self._metas[0]
        names = []
        for i, f in enumerate(self.schema):
            if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
                continue
            ok = md.num_row_groups > 0
            for rg in range(md.num_row_groups):
                try:
                    cc = md.row_group(rg).column(i)
                except IndexError:
                    ok = False
                    break
                if (cc.path_in_schema != f.name or not cc.has_dictionary_page
                        or cc.data_page_offset - cc.dictionary_page_offset > max_dict_bytes):
                    ok = False
                    break
            if ok:
                names.append(f.name)
        return names

    def _select(self, columns: list[str] | None) -> pa.Schema:
        import pyarrow as pa

        if columns is None:
            return self.schema
        names = set(self.schema.names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise BadInputError(f"{self.name} has no column {missing[0]!r} "
                                f"(columns: {', '.join(self.schema.names)})")
        return pa.schema([self.schema.field(c) for c in columns])

    def _raw_chunks(self, schema: pa.Schema, dictionary: list[str] | None = None
                    ) -> Iterator[pa.Table]:
        for i, p in enumerate(self.parts):
            file_cols = [n for n in schema.names if n not in p.partition]
            if self.fmt == "parquet":
                it = self._parquet_chunks(p, self._metas[i], file_cols, dictionary)
            else:
                it = self._csv_chunks(p, file_cols)
            for t in it:
                yield _conform(_add_partition(t, p, schema), schema, self._where(p),
                               keep_dictionary=bool(dictionary))

    def _parquet_chunks(self, p: Part, meta: Any, columns: list[str],
                        dictionary: list[str] | None = None) -> Iterator[pa.Table]:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(p.source(), metadata=meta, read_dictionary=dictionary,
                                memory_map=p.path is not None)
            have = set(pf.schema_arrow.names)
            cols = [c for c in columns if c in have]
            for rg in range(meta.num_row_groups):
                yield pf.read_row_group(rg, columns=cols, use_threads=True)
        except GitmlError:
            raise
        except Exception as e:  # noqa: BLE001
            raise FormatError(self._where(p), f"cannot read Parquet ({_short(e)})") from None

    def _csv_reader(self, p: Part, types: dict[str, Any] | None) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        ext, comp = _split_ext(p.rel or self.logical)
        delim = CSV_EXT.get(ext, ",")
        self._check_header(p)
        try:
            stream = pa.input_stream(p.source(), compression=comp)
            return pcsv.open_csv(
                stream, read_options=pcsv.ReadOptions(block_size=64 << 20),
                parse_options=pcsv.ParseOptions(delimiter=delim),
                convert_options=pcsv.ConvertOptions(column_types=types or {},
                                                    strings_can_be_null=True))
        except Exception as e:  # noqa: BLE001
            raise self._csv_error(p, e) from None

    def _check_header(self, p: Part) -> None:
        """Refuse, before Arrow reads it, a CSV part whose header row is too wide or long
        (Arrow's memory grows with the columns) or not UTF-8 (Arrow's names must be)."""
        import csv
        import io

        import pyarrow as pa

        checked: set[str] = self.__dict__.setdefault("_headers_checked", set())
        if p.rel in checked:
            return
        ext, comp = _split_ext(p.rel or self.logical)
        try:
            with pa.input_stream(p.source(), compression=comp) as stream:
                head = stream.read(CSV_HEADER_BYTES + 1)
        except Exception as e:  # noqa: BLE001
            raise self._csv_error(p, e) from None
        text = io.StringIO(head.decode("latin-1"), newline="")  # bytes 1:1; quotes are ASCII
        row = next(csv.reader(text, delimiter=CSV_EXT.get(ext, ",")), [])
        if len(head) > CSV_HEADER_BYTES and text.tell() >= CSV_HEADER_BYTES:
            raise FormatError(self._where(p), f"the header row is longer than "
                                              f"{CSV_HEADER_BYTES >> 20} MiB")
        if len(row) > MAX_COLUMNS:
            raise FormatError(self._where(p), f"{len(row):,} columns in the header row; gitml "
                                              f"reads tables of at most {MAX_COLUMNS:,} columns")
        for i, name in enumerate(row, 1):
            try:
                name.encode("latin-1").decode("utf-8")
            except UnicodeDecodeError:
                raise FormatError(self._where(p), f"column {i} of the header row is not UTF-8 "
                                                  f"text (convert the file, e.g. iconv -f "
                                                  f"latin1 -t utf-8)") from None
        checked.add(p.rel)

    def _csv_error(self, p: Part, e: Exception) -> GitmlError:
        msg = _short(e)
        if "Empty CSV file" in msg:
            return EmptyTableError(f"{self._where(p)}: the file is empty (no header, no rows)")
        return FormatError(self._where(p), f"cannot read CSV ({msg})")

    def _csv_chunks(self, p: Part, columns: list[str]) -> Iterator[pa.Table]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        size = os.path.getsize(p.path) if p.path else len(p.data or b"")
        ext, comp = _split_ext(p.rel or self.logical)
        self._check_header(p)
        try:
            if size <= CSV_WHOLE_LIMIT and comp is None:
                t = pcsv.read_csv(p.source(), parse_options=pcsv.ParseOptions(
                    delimiter=CSV_EXT.get(ext, ",")), convert_options=pcsv.ConvertOptions(
                    strings_can_be_null=True))
                yield _present(t, columns)
                return
            reader = self._csv_reader(p, None)
            for batch in reader:
                t = pa.Table.from_batches([batch])
                yield _present(t, columns)
        except GitmlError:
            raise
        except Exception as e:  # noqa: BLE001
            raise self._csv_error(p, e) from None

    def _where(self, p: Part) -> str:
        return f"{self.name}/{p.rel}" if p.rel else self.name


def _present(t: pa.Table, columns: list[str]) -> pa.Table:
    have = set(t.column_names)  # a set: column_names is a new list on every access
    return t.select([c for c in columns if c in have])


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def _add_partition(t: pa.Table, p: Part, schema: pa.Schema) -> pa.Table:
    import pyarrow as pa

    for key, value in p.partition.items():
        if key in schema.names and key not in t.column_names:
            typ = schema.field(key).type
            scalar = pa.scalar(int(value) if pa.types.is_integer(typ) else value, typ)
            t = t.append_column(key, pa.array([scalar.as_py()] * t.num_rows, typ))
    return t


def _conform(t: pa.Table, schema: pa.Schema, where: str, keep_dictionary: bool = False
             ) -> pa.Table:
    """Columns of ``schema`` in its order and types; a part's missing column is all null.

    With ``keep_dictionary``, a dictionary column of the declared value type stays encoded.
    """
    import pyarrow as pa

    if t.schema.equals(schema, check_metadata=False):
        return t
    cols = []
    fields = []
    have = set(t.column_names)
    for f in schema:
        if f.name not in have:
            cols.append(pa.nulls(t.num_rows, f.type))
            fields.append(f)
            continue
        col = t.column(f.name)
        if (keep_dictionary and pa.types.is_dictionary(col.type)
                and col.type.value_type == f.type):
            cols.append(col)
            fields.append(pa.field(f.name, col.type))
            continue
        fields.append(f)
        if col.type != f.type:
            try:
                col = col.cast(f.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise FormatError(where, f"column {f.name!r} is {col.type}, expected {f.type} "
                                         f"({_short(e)})") from None
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))
