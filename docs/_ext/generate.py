"""Pages generated at build time from the code, so the docs follow it without hand copies.

* the model-file schema: every ``ConfigTable.allow((...))`` call of the loaders (the keys a
  table accepts; anything else is rejected on load), with the table it belongs to (from the
  reader function's name) and the condition it is under (``model = "constant"``);
* the command-line reference: ``cevns-fit COMMAND --help`` of every command.
"""

from __future__ import annotations

import ast
import contextlib
import io
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The modules holding the loaders' allow(...) calls, relative to cevns_fit/.
LOADERS = ("detector/loading.py", "response_sections.py", "sections.py", "sources/loading.py")
# Readers whose name does not spell their table.
_TABLES = {
    "read_time_axis": "[analysis.time]",
    "read_psd_axis": "[analysis.psd]",
    "_read_one_background": "[[backgrounds]] (and [signal])",
    "_read_systematics": "[[backgrounds.systematics]] (and [[signal.systematics]])",
    "read_signal_table": "[signal]",
    "read_observations": "[[observations]]",
    "read_table_entry": "a table entry {file, columns, ...}",
    "_read_polynomial": '[quenching] model = "polynomial"',
}


def _strings(node: ast.AST, local: dict[str, ast.AST]) -> list[str]:
    """The string constants of a tuple expression such as ``common + ("a", "b")``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List):
        return [s for elt in node.elts for s in _strings(elt, local)]
    if isinstance(node, ast.BinOp):
        return _strings(node.left, local) + _strings(node.right, local)
    if isinstance(node, ast.Starred):
        return _strings(node.value, local)
    if isinstance(node, ast.Name) and node.id in local:
        return _strings(local[node.id], local)
    if isinstance(node, ast.Name):  # a constant imported from another module
        return [f"(the names in {node.id})"]
    if isinstance(node, ast.Call) and node.args:  # tuple(NAME): a module constant's keys
        return [f"(the keys of {ast.unparse(node.args[0])})"]
    return []


def _table_name(func: str, receiver: ast.AST, local: dict[str, ast.AST]) -> str:
    """``[name]`` of the table a ``t.allow`` call checks: from ``t = x.table("name")`` in the
    same function, else from the reader's name (``_read_quenching`` -> ``[quenching]``)."""
    value = local.get(receiver.id) if isinstance(receiver, ast.Name) else None
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in ("table", "optional_table")
        and value.args
        and isinstance(value.args[0], ast.Constant)
    ):
        parent = _TABLES.get(func, "")
        sub = str(value.args[0].value)
        if parent.startswith("[") and not parent.startswith("[[") and sub not in parent:
            return f"{parent[:-1]}.{value.args[0].value}]"
        return f"[{value.args[0].value}]"
    if func in _TABLES:
        return _TABLES[func]
    if func.startswith(("_read_", "read_")):
        return f"[{func.removeprefix('_').removeprefix('read_')}]"
    return "top level"


def _condition(test: ast.AST) -> tuple[str, str] | None:
    """(``model``, ``"constant"``) for ``if model == "constant":``, else None."""
    if isinstance(test, ast.Compare) and isinstance(test.ops[0], ast.Eq):
        right = test.comparators[0]
        if isinstance(right, ast.Constant) and isinstance(right.value, str):
            left = ast.unparse(test.left).split("(")[-1].strip("\"')")
            return left, right.value
    return None


def schema_rows(path: Path) -> list[tuple[str, str, list[str]]]:
    tree = ast.parse(path.read_text())
    rows = []

    module_constants: dict[str, ast.AST] = {}

    def visit(node: ast.AST, conds: list[str], func: str, local: dict) -> None:
        if isinstance(node, ast.FunctionDef):
            func, local = node.name, dict(module_constants)
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                local[target.id] = node.value
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "allow"
            and node.args
        ):
            table = _table_name(func, node.func.value, local)
            rows.append((table, ", ".join(conds), _strings(node.args[0], local)))
        if isinstance(node, ast.If) and (cond := _condition(node.test)):
            for child in node.body:
                visit(child, [*conds, f'{cond[0]} = "{cond[1]}"'], func, local)
            is_elif = len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If)
            other = conds if is_elif else [*conds, f"any other {cond[0]}"]
            for child in node.orelse:
                visit(child, other, func, local)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, conds, func, local)

    for node in tree.body:  # module-level tuples such as _TABLE_KEYS
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], ast.Name):
                module_constants[node.targets[0].id] = node.value
    visit(tree, [], "", dict(module_constants))
    return rows


def schema_markdown() -> str:
    lines = []
    for name in LOADERS:
        lines += [
            f"### Keys accepted by `cevns_fit/{name}`",
            "",
            "| table | when | allowed keys |",
            "|---|---|---|",
        ]
        for table, when, keys in schema_rows(ROOT / "cevns_fit" / name):
            shown = ", ".join(f"`{k}`" if not k.startswith("(") else k for k in keys)
            lines.append(f"| {table} | {when or '—'} | {shown} |")
        lines.append("")
    return "\n".join(lines)


def cli_markdown() -> str:
    import argparse

    from cevns_fit.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    parts = ["## `cevns-fit --help`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, subparser in sub.choices.items():
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            subparser.print_help()
        parts += [f"## `cevns-fit {name}`", "", "```text", buffer.getvalue().rstrip(), "```", ""]
    return "\n".join(parts)


def models_markdown() -> str:
    from cevns_fit.registry import shipped_models

    lines = ["| kind | name | description |", "|---|---|---|"]
    for m in shipped_models():
        lines.append(f"| {m.kind} | `{m.name}` | {m.description} |")
    return "\n".join(lines) + "\n"


def write_generated(out_dir: Path) -> None:
    out_dir.mkdir(exist_ok=True)
    pages = {"schema.md": schema_markdown(), "cli.md": cli_markdown()}
    pages["models_list.md"] = models_markdown()
    for name, text in pages.items():
        path = out_dir / name
        if not path.exists() or path.read_text() != text:  # unchanged files: no rebuild
            path.write_text(text)
