"""Reading an uploaded or local CSV file: text or not, its separator, its header, its rows.

Files are UTF-8 (with or without BOM), separated by ``,`` or ``;``, and read as a stream.
Rows come as ``(line, {column: non-empty value})``, ``line`` being where the row starts
in the file (the header is line 1; a quoted value may span lines).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from typing import TextIO

SAMPLE = 64 * 1024  # read up front to tell a text file from anything else


class Refused(ValueError):
    """A row (or the file) that cannot be loaded; the message says why."""


def not_text(sample: bytes) -> str | None:
    """Why ``sample`` cannot be the start of a UTF-8 CSV file, or None."""
    if not sample.strip():
        return "the file is empty"
    if b"\0" in sample:
        return "not a CSV file: it holds binary data"
    try:
        # Not final: the sample may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start + 1}): save the file as CSV UTF-8"
    return None


def delimiter(header_line: str) -> str:
    """``,`` or ``;``, whichever separates the header (column names contain neither)."""
    try:
        return csv.Sniffer().sniff(header_line, delimiters=",;").delimiter
    except csv.Error:  # a single column
        return ","


class CsvFile:
    """A CSV text stream: its header is read at once, its rows on demand."""

    def __init__(self, handle: TextIO) -> None:
        first = handle.readline()
        self.delimiter = delimiter(first)
        try:
            names = next(csv.reader([first], delimiter=self.delimiter), [])
        except csv.Error as exc:
            raise Refused(f"the first line is not readable as CSV ({exc})") from None
        self.header = [name.strip().lstrip("\ufeff").strip() for name in names]
        self.handle = handle
        if not any(self.header):
            raise Refused("the first line names no columns")
        seen: set[str] = set()
        for name in self.header:
            if name and name.lower() in seen:
                raise Refused(f"column {name!r} appears twice")
            seen.add(name.lower())

    def rows(self) -> Iterator[tuple[int, dict[str, str] | str]]:
        """The rows as {column: non-empty value}, with the line each starts on; for a row
        with more values than columns, or unreadable text, a string saying so."""
        reader = csv.reader(self.handle, delimiter=self.delimiter)
        header = self.header
        read = 1  # lines consumed so far: the header
        try:
            for values in reader:
                line, read = read + 1, 1 + reader.line_num
                if not any(v.strip() for v in values):
                    continue
                if len(values) > len(header):
                    yield line, f"{len(values)} values, but the header names {len(header)} columns"
                    continue
                yield (
                    line,
                    {
                        name: value.strip()
                        for name, value in zip(header, values, strict=False)
                        if name and value.strip()
                    },
                )
        except csv.Error as exc:
            yield read + 1, f"not readable as CSV ({exc}); stopped here"
        except UnicodeDecodeError:
            yield read + 1, "not UTF-8 text from here on; stopped here"

    def samples(self, count: int = 3) -> dict[str, list[str]]:
        """Up to ``count`` filled-in values of each column, from the first rows (a preview
        for the mapping step: consumes the stream)."""
        found: dict[str, list[str]] = {name: [] for name in self.header if name}
        for seen, (_, row) in enumerate(self.rows()):
            if isinstance(row, str):
                continue
            for name, value in row.items():
                if len(found[name]) < count:
                    found[name].append(value[:80])
            if seen >= 200 or all(len(v) >= count for v in found.values()):
                break
        return found
