"""The API-differences table, generated from what each variant declares next to its code.

Each variant class holds `API = {concept: text}`, code in backticks. The declarations are read with
`ast`, without importing any framework, so the table builds in the analysis environment.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pandas as pd

from tale_of_two.experiment import FRAMEWORKS_DIR

CONCEPTS = {
    "parameters": "Declaring parameters",
    "model": "Model base class",
    "forward": "Forward pass",
    "loss": "Loss",
    "gradients": "Computing gradients",
    "update": "Applying an update",
    "zero_grad": "Zeroing gradients",
    "optimizer": "Optimizer",
    "training": "Training entry point",
    "read": "Reading fitted parameters",
}
CODE = re.compile(r"`([^`]+)`")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class ApiError(ValueError):
    """A variant's API declaration that is missing or cannot be read."""


def _literal_api(node: ast.expr, apis: dict[str, dict], where: str) -> dict[str, str]:
    """A dict literal, allowing `{**OtherClass.API, key: value}` for a variant built on another."""
    if not isinstance(node, ast.Dict):
        raise ApiError(f"{where}: API must be a dict literal")
    api: dict[str, str] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if key is None:  # ** unpacking
            if not (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.attr == "API"):
                raise ApiError(f"{where}: can only unpack another class's API")
            if value.value.id not in apis:
                raise ApiError(f"{where}: {value.value.id}.API is not declared above it")
            api.update(apis[value.value.id])
        else:
            api[ast.literal_eval(key)] = ast.literal_eval(value)
    return api


def declared_apis(framework: str, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[str, dict[str, str]]:
    """{variant: {concept: text}} for every variant in the framework's VARIANTS."""
    path = frameworks_dir / f"{framework}.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    apis: dict[str, dict] = {}
    variants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "API" for t in statement.targets
                ):
                    apis[node.name] = _literal_api(statement.value, apis, f"{path}:{node.name}")
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "VARIANTS" for t in node.targets):
            variants = {ast.literal_eval(k): v.id for k, v in zip(node.value.keys, node.value.values, strict=True)}
    result = {}
    for variant, class_name in variants.items():
        api = apis.get(class_name)
        if api is None:
            raise ApiError(f"{path}: {class_name} (variant {variant!r}) declares no API")
        missing = [concept for concept in CONCEPTS if concept not in api]
        if missing:
            raise ApiError(f"{path}: {class_name} (variant {variant!r}) declares no API for {missing}")
        result[variant] = api
    return result


def referenced_names(text: str) -> list[str]:
    """The identifiers and dotted names inside the backticked code of one declaration."""
    return [name for code in CODE.findall(text) for name in NAME.findall(code)]


def api_table(runs: list[tuple[str, str]], frameworks_dir: Path = FRAMEWORKS_DIR) -> pd.DataFrame:
    """Concepts down, one column per run, in the order given."""
    columns = {}
    cache: dict[str, dict] = {}
    for framework, variant in runs:
        if framework not in cache:
            cache[framework] = declared_apis(framework, frameworks_dir)
        columns[f"{framework}/{variant}"] = [cache[framework][variant][concept] for concept in CONCEPTS]
    return pd.DataFrame(columns, index=pd.Index(list(CONCEPTS.values()), name="concept"))


def to_markdown(table: pd.DataFrame) -> str:
    header = (
        "# API differences\n\nWhat each run's code uses for each step, declared next to the code and checked "
        "against it by the tests.\n\n"
    )
    return header + table.to_markdown(disable_numparse=True) + "\n"


def to_html(table: pd.DataFrame) -> str:
    """A standalone page for the report: code in backticks rendered as code."""

    def cell(text: str) -> str:
        return CODE.sub(lambda match: f"<code>{match.group(1)}</code>", html.escape(text, quote=False))

    head = "".join(f"<th>{html.escape(column)}</th>" for column in table.columns)
    rows = "".join(
        f"<tr><th>{html.escape(concept)}</th>" + "".join(f"<td>{cell(value)}</td>" for value in values) + "</tr>"
        for concept, values in zip(table.index, table.to_numpy(), strict=True)
    )
    style = (
        "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:.4em .6em;vertical-align:top;text-align:left}"
        "thead th{background:#f3f3f3}tbody th{background:#fafafa;white-space:nowrap}code{font-size:.9em}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>API differences</title><style>{style}</style>"
        f"</head><body><h1>API differences</h1><table><thead><tr><th>concept</th>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></body></html>\n"
    )


def unreferenced_names(framework: str, frameworks_dir: Path = FRAMEWORKS_DIR) -> list[str]:
    """Names a declaration shows as code that the module's own source never uses: the table would lie."""
    source = (frameworks_dir / f"{framework}.py").read_text()
    missing = []
    for variant, api in declared_apis(framework, frameworks_dir).items():
        for concept, text in api.items():
            for name in referenced_names(text):
                if not re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", source.replace(text, "")):
                    missing.append(f"{framework}/{variant} {concept}: {name}")
    return missing
