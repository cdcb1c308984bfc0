"""The code keeps a size a reader can hold: no module over 500 lines, no function over 80.

A function's length is its lines less the lines of the multi-line strings inside it (SQL text,
docstrings and data written as text do not count: they are read, not followed). The limits are the
ones ``CONTRIBUTING.md`` states; a change that crosses one splits the module or the function by
concern instead of raising the number here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "evrevops"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def string_lines(node: ast.AST) -> int:
    """Lines taken by multi-line string constants and f-strings inside *node* [lines]."""
    lines: set[int] = set()
    for child in ast.walk(node):
        is_text = isinstance(child, ast.JoinedStr) or (isinstance(child, ast.Constant) and isinstance(child.value, str))
        end = getattr(child, "end_lineno", None)
        if is_text and end is not None and end > child.lineno:  # type: ignore[attr-defined]
            lines.update(range(child.lineno, end + 1))  # type: ignore[attr-defined]
    return len(lines)


def function_lengths(source: str) -> list[tuple[str, int, int]]:
    """Every function in *source*: (qualified name, first line, counted length [lines])."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                length = child.end_lineno - child.lineno + 1 - string_lines(child)  # type: ignore[operator]
                found.append((name, child.lineno, length))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_the_limit() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for path in modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split by concern):\n" + "\n".join(long)


def test_no_function_over_the_limit() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{line} {name}: {length} lines"
        for path in modules()
        for name, line, length in function_lengths(path.read_text(encoding="utf-8"))
        if length > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (not counting SQL text):\n" + "\n".join(long)


SAMPLE = '''
def short():
    return 1


class Holder:
    def method(self):
        sql = """
            SELECT 1
            FROM t
        """
        return sql

    def nested(self):
        def inner():
            x = 1
            return x
        return inner
'''


def test_function_lengths_leave_out_sql_text() -> None:
    lengths = {name: length for name, _, length in function_lengths(SAMPLE)}
    assert lengths == {"short": 2, "Holder.method": 2, "Holder.nested": 5, "Holder.nested.inner": 3}


def test_a_long_function_is_reported() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    [(name, line, length)] = function_lengths(f"def long():\n{body}\n")
    assert (name, line, length) == ("long", 1, MAX_FUNCTION_LINES + 1)
