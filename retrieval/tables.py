"""Rows from the data files people actually export: CSV (',', ';', tab or '|' separated,
sniffed from the header), TSV and JSONL, in UTF-8 (with or without Excel's BOM), UTF-16 with
a BOM, or an encoding the caller names.

Column names are matched ignoring case and surrounding spaces (" Item_ID " is `item_id`).
Every problem is a `DataError` that names the file, the line and the fix; a file in the
wrong encoding never surfaces as a raw UnicodeDecodeError. Knows nothing of catalogs,
ratings or facets (retrieval/loaders.py gives the columns their meaning).
"""

from __future__ import annotations

import codecs
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
DELIMITERS = (",", ";", "\t", "|")  # tried on the header line; on a tie the first wins
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # Excel's "Unicode Text" export


class DataError(ValueError):
    """A data file that cannot be used as it is; the message says where and what to do."""


def column_name(raw: str) -> str:
    """How a header is matched: " Item_ID " -> "item_id"."""
    return raw.strip().lower()


def _codec(path: Path, encoding: str) -> str:
    """The codec to open `path` with: UTF-8 reads a leading BOM away (Excel's "CSV UTF-8"),
    and a UTF-16 BOM under the default UTF-8 means UTF-16."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"{path}: unknown encoding {encoding!r}; use e.g. utf-8, cp1252 or latin-1") from None
    if name == "utf-8":
        with path.open("rb") as f:
            head = f.read(2)
        return "utf-16" if head in UTF16_BOMS else "utf-8-sig"
    return encoding


def _decode_error(path: Path, encoding: str) -> DataError:
    """The first line of `path` that `encoding` cannot read, and the encoding to try."""
    codec = _codec(path, encoding)
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                raw.decode(codec)
            except UnicodeDecodeError as e:
                bad = raw[e.start:e.end]
                try:
                    raw.decode("cp1252")
                    guess = "cp1252"  # Excel on Windows; Latin-1 plus curly quotes and the euro sign
                except UnicodeDecodeError:
                    guess = "latin-1"  # reads any byte
                if guess == codecs.lookup(encoding).name:
                    guess = "latin-1"
                return DataError(f"{path}:{line_no}: bytes {bad!r} are not valid {encoding}; the file looks "
                                 f"like {guess}: pass --encoding {guess} (encoding={guess!r}), "
                                 "or save the file as UTF-8")
    return DataError(f"{path}: not readable as {encoding}; pass the file's encoding with --encoding "
                     "(e.g. cp1252), or save the file as UTF-8")


def _delimiter(header: str, suffix: str) -> str:
    """The separator that splits the header line into the most columns (',' on a tie)."""
    if suffix == ".tsv":
        return "\t"
    return max(DELIMITERS, key=lambda d: len(next(csv.reader([header], delimiter=d), [])))


@dataclass(frozen=True)
class Table:
    """One data file, its header read. `columns` are the matched names of a CSV header, in
    file order (None for JSONL, whose keys may differ line by line); `delimiter` is the CSV
    separator found and `header_line` the header's line number (None and 0 for JSONL)."""

    path: Path
    encoding: str
    columns: tuple[str, ...] | None
    delimiter: str | None
    header_line: int = 0

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(line number, record) pairs; keys are matched column names, values stripped strings
        ("" when empty). Blank lines are skipped."""
        try:
            if self.columns is None or self.delimiter is None:
                yield from self._jsonl_rows()
            else:
                yield from self._csv_rows(self.columns, self.delimiter)
        except UnicodeDecodeError:
            raise _decode_error(self.path, self.encoding) from None

    def _csv_rows(self, columns: tuple[str, ...], delimiter: str) -> Iterator[tuple[int, dict[str, str]]]:
        with self.path.open(newline="", encoding=_codec(self.path, self.encoding)) as f:
            reader = csv.reader(f, delimiter=delimiter)
            try:
                for values in reader:
                    if reader.line_num <= self.header_line or not any(v.strip() for v in values):
                        continue  # the header (read by open_table) and blank lines
                    if len(values) > len(columns):
                        raise DataError(
                            f"{self.path}:{reader.line_num}: {len(values)} values but the header has "
                            f"{len(columns)} columns; quote values that contain {delimiter!r} "
                            "(\"Hello, World\")")
                    rec = dict.fromkeys((c for c in columns if c), "")
                    rec.update((c, v.strip()) for c, v in zip(columns, values) if c)
                    yield reader.line_num, rec
            except csv.Error as e:
                raise DataError(f"{self.path}:{reader.line_num}: not readable as CSV ({e}); "
                                "check the quotes on this line, or the encoding (--encoding)") from None

    def _jsonl_rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        for line_no, record in read_jsonl(self.path, encoding=self.encoding):
            if not isinstance(record, dict):
                raise DataError(f"{self.path}:{line_no}: expected a JSON object per line")
            rec: dict[str, str] = {}
            for key, value in record.items():
                if isinstance(value, dict):
                    raise DataError(f"{self.path}:{line_no}: key {key!r} holds an object; "
                                    "give a string, a number or a list of strings")
                if isinstance(value, list):  # ["Comedy", "Drama"] reads as "Comedy|Drama"
                    value = "|".join(str(v).strip() for v in value if v is not None)
                rec[column_name(str(key))] = "" if value is None else str(value).strip()
            yield line_no, rec


def open_table(path: str | Path, encoding: str = "utf-8") -> Table:
    """Open a .csv/.tsv/.txt or .jsonl/.json/.ndjson file and read its header; a missing
    file, an unknown type, a bad encoding or clashing column names is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    codec = _codec(path, encoding)
    if suffix in JSONL_SUFFIXES:
        return Table(path, encoding, None, None)
    if suffix not in CSV_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv or .jsonl")
    header, header_line = "", 0
    try:
        with path.open(newline="", encoding=codec) as f:
            for header_line, header in enumerate(f, start=1):
                if header.strip():
                    break
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None
    delimiter = _delimiter(header, suffix)
    columns = tuple(column_name(c) for c in next(csv.reader([header], delimiter=delimiter), []))
    seen: dict[str, int] = {}
    for i, c in enumerate(columns):
        if c and c in seen:
            raise DataError(f"{path}:{header_line}: columns {seen[c] + 1} and {i + 1} are both named {c!r} (case and "
                            "spaces are ignored); rename or drop one")
        seen[c] = i
    return Table(path, encoding, columns, delimiter, header_line)


def read_jsonl(path: Path, what: str = "file", encoding: str = "utf-8") -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON value) for each non-blank line; a missing file, a line that
    is not JSON, or bytes not in `encoding` is a DataError naming the file and line."""
    if not path.exists():
        raise DataError(f"{path}: {what} not found")
    try:
        with path.open(encoding=_codec(path, encoding)) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{line_no}: not valid JSON ({e.msg}); "
                                    "write one JSON object per line") from None
                yield line_no, value
    except UnicodeDecodeError:
        raise _decode_error(path, encoding) from None


def require(table: Table, line_no: int, record: dict[str, str], needed: tuple[str, ...], what: str) -> None:
    """A DataError listing the columns found and the ones needed when `record` lacks any."""
    missing = [c for c in needed if c not in record]
    if missing:
        found = [c for c in (table.columns if table.columns is not None else record) if c]
        raise DataError(f"{table.path}:{line_no}: missing column(s) {missing}; the columns found are {found}, "
                        f"{what} needs {list(needed)} (names match ignoring case and spaces)")
