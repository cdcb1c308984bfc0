"""``--columns`` and ``--all``: on every command that takes ``--format``, added once here rather than in each.

A table shows the columns that fit :data:`evrevops.cli.tables.WIDTH` (the report's own first);
``--all`` shows every column, ``--columns a,b`` exactly those (in CSV and JSON too, which otherwise
carry every column).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from evrevops.cli.render import settings

ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Only these columns, comma-separated, in this order (table, CSV and JSON); names as in --format json.",
    ),
]
AllOpt = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Every column in the table, however wide (by default a table shows what fits 120 characters and "
        "names the rest on stderr). CSV and JSON always have every column.",
    ),
]
_ADDED = ("columns_", "all_")


def with_column_options(command: Callable[..., Any], path: str) -> Callable[..., Any]:
    """*command* (called *path*, e.g. ``pipeline projects``) with ``--columns`` and ``--all``, which set
    :data:`evrevops.cli.render.settings` before it runs (with *path*: its table's default columns)."""
    signature = inspect.signature(command, eval_str=True)

    @functools.wraps(command)
    def wrapper(*args: Any, columns_: str | None = None, all_: bool = False, **kwargs: Any) -> Any:
        settings["columns"], settings["all"], settings["command"] = columns_, all_, path
        return command(*args, **kwargs)

    params = [p for p in signature.parameters.values() if p.name not in _ADDED]
    extra = [
        inspect.Parameter("columns_", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ColumnsOpt),
        inspect.Parameter("all_", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=AllOpt),
    ]
    positional = [p for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    keyword = [p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    wrapper.__signature__ = signature.replace(parameters=[*positional, *keyword, *extra])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*params, *extra]}
    return wrapper


def add_column_options(app: typer.Typer, prefix: str = "") -> None:
    """Give every command of *app* (and of its groups) that takes ``fmt`` (``--format``) the column options."""
    for info in app.registered_commands:
        callback = info.callback
        if callback is not None and "fmt" in inspect.signature(callback).parameters:
            name = info.name or callback.__name__.removesuffix("_cmd").replace("_", "-")
            info.callback = with_column_options(callback, f"{prefix}{name}")
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        main = sub.registered_callback  # a group that is a command too (`metrics`, `pipeline`, `ledger`)
        if main is not None and main.callback is not None and "fmt" in inspect.signature(main.callback).parameters:
            main.callback = with_column_options(main.callback, f"{prefix}{group.name}")
        add_column_options(sub, f"{prefix}{group.name} ")
