"""A text file's lines into a DuckDB table ``(rec, j)``, with true line numbers, in bulk.

:func:`load_lines` lets DuckDB's CSV reader split a file into lines when it can be trusted
with every byte, and splits the file in Python otherwise (bytes that are not UTF-8, a lone CR,
the delimiter byte, NUL). The NDJSON readers (:func:`evrevops.formats.records.json_records`)
and the OCPP log reader (:mod:`evrevops.formats.ocpp`) read their lines this way.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import duckdb
import pyarrow as pa

from evrevops.formats import limits
from evrevops.formats.base import FormatError, decode_line

#: SQL: the white space DuckDB's NDJSON reader skips around a record (space, tab, vertical tab, form feed, CR)
SPACE_SQL = "chr(32) || chr(9) || chr(11) || chr(12) || chr(13)"


def sql_path(path: Path) -> str:
    """*path* as the text inside a SQL string literal (each ``'`` doubled)."""
    return str(path).replace("'", "''")


def open_bytes(path: Path) -> io.BufferedIOBase:
    """*path* opened for reading bytes, through gzip when it ends in ``.gz``."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def raise_unless_not_utf8(exc: duckdb.Error, path: Path, what: str) -> None:
    """Re-raise DuckDB's refusal to read *path* (*what*: ``the file``) as lines of text, unless it
    refused bytes that are not UTF-8, which the caller then reads another way.

    Raises
    ------
    FormatError
        ``cannot read <what> as lines of text: <DuckDB's first line>``.
    """
    msg = str(exc)
    if "unicode" not in msg.lower() and "utf-8" not in msg.lower():
        raise FormatError(path, f"cannot read {what} as lines of text: {msg.splitlines()[0]}") from None


def load_lines(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str = "lines",
    undecodable: list[tuple[int, str | None, str, str | None]] | None = None,
) -> int:
    """Load a text file's lines into ``table(rec, j)``; ``rec`` is the 1-based line number.

    Blank lines (nothing but white space) are kept out of the table but still numbered, so
    ``rec`` is the true line number; ``new_line='\\r\\n'`` takes both LF and CRLF as one line
    end, so a file with mixed line ends keeps its numbering (by default DuckDB settles on the
    first line's ending and counts a stray CR as a line of its own). A UTF-8 byte-order mark on
    line 1 is dropped. Lines up to the line limit in force
    (:attr:`~evrevops.formats.limits.Limits.max_line_bytes`) are read.

    DuckDB's CSV reader cannot be trusted with every byte: it refuses a whole file for one
    line that is not UTF-8, takes a lone CR for a line end (and loses the character after it)
    and cuts a line at the delimiter byte. A file with such bytes is split into lines in
    Python instead (:func:`_split_lines`, in batches): at LF only, each line decoded on its
    own; a line that is not UTF-8 is left out of the table and appended to *undecodable* as a
    quarantine row ``(line, None, reason, raw)`` (its bytes shown with U+FFFD). Returns the
    number of non-blank lines, undecodable ones included.

    Raises
    ------
    FormatError
        When DuckDB cannot read the file as lines of text for another reason.
    """
    bad: list[tuple[int, str | None, str, str | None]] = []
    if _awkward_bytes(path):
        bad = _split_lines(con, path, table)
    else:
        try:
            _load_lines_sql(con, path, table)
        except duckdb.Error as exc:
            raise_unless_not_utf8(exc, path, "the file")
            bad = _split_lines(con, path, table)
    if undecodable is not None:
        undecodable.extend(bad)
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] + len(bad)


def _load_lines_sql(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> None:
    p = sql_path(path)
    comp = ", compression='gzip'" if path.suffix == ".gz" else ""
    max_line = max(limits.current().max_line_bytes, 2 << 20)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT rec, CASE WHEN rec = 1 THEN ltrim(j, chr(65279)) ELSE j END AS j
            FROM (SELECT row_number() OVER () AS rec, line AS j
                  FROM read_csv('{p}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', escape='',
                                header=false, auto_detect=false, strict_mode=false, new_line='\\r\\n',
                                null_padding=false, allow_quoted_nulls=false,
                                max_line_size={max_line}, buffer_size={max(2 * max_line, 32 << 20)}{comp}))
            WHERE j IS NOT NULL AND trim(j, {SPACE_SQL}) <> ''"""
    )


def _awkward_bytes(path: Path, chunk: int = 1 << 24) -> bool:
    """True when *path* holds a byte DuckDB's CSV line reader mishandles: a CR not followed by LF,
    the delimiter byte 0x01, or NUL.

    One pass over the bytes in blocks, each searched with ``memchr`` (``bytes.__contains__``);
    CRs are counted only in a block that has one, so a file with LF line ends costs about a read.
    """
    cr_at_end = False
    with open_bytes(path) as f:
        while block := f.read(chunk):
            if cr_at_end and not block.startswith(b"\n"):
                return True
            if b"\x00" in block or b"\x01" in block:
                return True
            cr_at_end = block.endswith(b"\r")
            if b"\r" in block:
                body = block[:-1] if cr_at_end else block
                if body.count(b"\r") != body.count(b"\r\n"):
                    return True
    return cr_at_end


def _split_lines(
    con: duckdb.DuckDBPyConnection, path: Path, table: str
) -> list[tuple[int, str | None, str, str | None]]:
    """Load ``table(rec, j)`` from *path*'s lines split at LF in Python, in batches of Arrow
    arrays; return quarantine rows for the lines that are not UTF-8."""
    bad: list[tuple[int, str | None, str, str | None]] = []
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (rec BIGINT, j VARCHAR)")
    recs: list[int] = []
    texts: list[str] = []

    def flush() -> None:
        con.register("_batch", pa.table({"rec": pa.array(recs, pa.int64()), "j": pa.array(texts, pa.string())}))
        con.execute(f"INSERT INTO {table} SELECT rec, j FROM _batch")
        con.unregister("_batch")
        recs.clear()
        texts.clear()

    space = b" \t\x0b\x0c\r"
    with open_bytes(path) as f:
        for i, raw in enumerate(f, start=1):
            raw = raw.removesuffix(b"\n").removesuffix(b"\r")
            if i == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip(space):
                continue
            text, why = decode_line(raw)
            if text is None:
                bad.append((i, None, why, raw.decode("utf-8", errors="replace")))
                continue
            recs.append(i)
            texts.append(text)
            if len(recs) >= 50_000:
                flush()
    flush()
    return bad
