"""The API-differences table and the code listings, both read from the variants' own source.

A line of a variant's code that the table should show is tagged with a trailing ``# api: <concept>``
(optionally ``# api: <concept>: <note>``); a concept with no line of its own (``zero_grad`` where
nothing accumulates) is a comment line ``# api: <concept>: <text>``. ``# api[with]: <concept>`` shows the
line with the header of the innermost ``with`` block around it (``with torch.no_grad(): ... param -= ...``),
for a line whose meaning depends on that context. What counts as a variant's code
is its class, its base classes, and the module-level functions and classes they use, followed across
``from tale_of_two.fit.frameworks.<module> import ...``: a tag anywhere else in the module is not that
variant's. Everything is read with `ast` and `tokenize`, without importing any framework, so the table
builds in the analysis environment.
"""

from __future__ import annotations

import ast
import difflib
import html
import io
import re
import tokenize
from pathlib import Path

import pandas as pd
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonLexer

from tale_of_two.analysis.pages import inline_code, page
from tale_of_two.config import FRAMEWORKS_DIR, variant_classes

CONCEPTS = {
    "parameters": "Declaring parameters",
    "model": "Model",
    "forward": "Forward pass",
    "loss": "Loss",
    "gradients": "Computing gradients",
    "update": "Applying an update",
    "zero_grad": "Zeroing gradients",
    "optimizer": "Optimizer",
    "training": "Training loop",
    "read": "Reading fitted parameters",
    "article": "Differs from the article",
}
OPTIONAL = {"article": "no"}  # concepts a variant may leave untagged, and what the table then says
TAG = re.compile(r"#\s*api(\[with\])?:\s*(\w+)(?::\s*(.*))?$")
PACKAGE = "tale_of_two.fit.frameworks"


class ApiError(ValueError):
    """A variant whose code cannot be found, or that leaves a concept untagged."""


class Module:
    """A framework module's parse tree, its comments by line, and where its top-level names come from."""

    def __init__(self, path: Path):
        self.path = path
        self.source = path.read_text()
        self.lines = self.source.splitlines()
        self.tree = ast.parse(self.source, filename=str(path))
        self.comments = {
            token.start[0]: (token.start[1], token.string)
            for token in tokenize.generate_tokens(io.StringIO(self.source).readline)
            if token.type == tokenize.COMMENT
        }
        self.defined = {node.name: node for node in self.tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
        self.imported = {
            alias.asname or alias.name: (node.module[len(PACKAGE) + 1 :], alias.name)
            for node in self.tree.body
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE + ".")
            for alias in node.names
        }

    def code(self, start: int, end: int) -> str:
        """Lines start..end (1-based, inclusive) without their comments, joined into one line of code."""
        parts = []
        for number in range(start, end + 1):
            line = self.lines[number - 1]
            if number in self.comments:
                line = line[: self.comments[number][0]]
            parts.append(line.strip())
        return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", " ".join(p for p in parts if p)))


class Source:
    """Resolves names to the pieces of code that define them, across the framework modules."""

    def __init__(self, frameworks_dir: Path = FRAMEWORKS_DIR):
        self.frameworks_dir = frameworks_dir
        self.modules: dict[str, Module] = {}

    def module(self, name: str) -> Module:
        if name not in self.modules:
            path = self.frameworks_dir / f"{name}.py"
            if not path.is_file():
                raise ApiError(f"no framework module {path}")
            self.modules[name] = Module(path)
        return self.modules[name]

    def resolve(self, module_name: str, name: str) -> tuple[str, ast.AST] | None:
        module = self.module(module_name)
        if name in module.defined:
            return module_name, module.defined[name]
        if name in module.imported:
            return self.resolve(*module.imported[name])
        return None

    def pieces(self, framework: str, variant: str) -> list[tuple[Module, ast.AST]]:
        """The variant's class first, then its bases, then everything they use, each once."""
        variants = variant_classes(framework, self.frameworks_dir)
        if variant not in variants:
            raise ApiError(f"{framework}: no variant {variant!r}; declared: {sorted(variants)}")
        found = self.resolve(framework, variants[variant])
        if found is None:
            raise ApiError(f"{framework}/{variant}: class {variants[variant]} is neither defined nor imported")
        queue, seen, pieces = [found], set(), []
        while queue:
            module_name, node = queue.pop(0)
            if (module_name, node.name) in seen:
                continue
            seen.add((module_name, node.name))
            pieces.append((self.module(module_name), node))
            bases = [b.id for b in getattr(node, "bases", []) if isinstance(b, ast.Name)]
            used = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id not in bases]
            for name in [*bases, *used]:
                resolved = self.resolve(module_name, name)
                if resolved is not None:
                    queue.append(resolved)
        return pieces

    def api(self, framework: str, variant: str) -> dict[str, str]:
        """{concept: cell}: the first piece (class, bases, what they use) that tags a concept gives its cell."""
        cells: dict[str, str] = {}
        for module, node in self.pieces(framework, variant):
            tagged: dict[str, list[str]] = {}
            for line in range(node.lineno, node.end_lineno + 1):
                column, comment = module.comments.get(line, (0, ""))
                match = TAG.match(comment)
                if match is None:
                    continue
                in_with, concept, note = match.group(1), match.group(2), (match.group(3) or "").strip()
                if concept not in CONCEPTS:
                    raise ApiError(f"{module.path}:{line}: unknown API concept {concept!r}; known: {list(CONCEPTS)}")
                if not module.lines[line - 1][:column].strip():  # a comment line: the note is the cell
                    if not note:
                        raise ApiError(f"{module.path}:{line}: `# api: {concept}` on a line of its own needs a text")
                    tagged.setdefault(concept, []).append(note)
                    continue
                lines = statement_lines(node, line)
                if lines is None:
                    raise ApiError(f"{module.path}:{line}: `# api: {concept}` tags a line where no statement starts")
                code = module.code(*lines)
                if in_with:
                    block = enclosing_with(node, line)
                    if block is None:
                        raise ApiError(f"{module.path}:{line}: `# api[with]: {concept}` tags a line in no `with` block")
                    gap = " " if block.body[0].lineno == line else " ... "
                    code = module.code(*statement_lines(node, block.lineno)) + gap + code
                code = f"`{code.rstrip(':')}`"
                tagged.setdefault(concept, []).append(f"{code} ({note})" if note else code)
            for concept, texts in tagged.items():
                cells.setdefault(concept, "; ".join(texts))
        missing = [c for c in CONCEPTS if c not in cells and c not in OPTIONAL]
        if missing:
            raise ApiError(f"{framework}/{variant}: no `# api:` tag in its code for {missing}")
        return {concept: cells.get(concept, OPTIONAL.get(concept)) for concept in CONCEPTS}

    def listing(self, framework: str, variant: str) -> str:
        """The variant's code as it ran: each piece in full (decorators and comments too), file by file."""
        by_module: dict[Path, tuple[Module, list[ast.AST]]] = {}
        for module, node in self.pieces(framework, variant):
            by_module.setdefault(module.path, (module, []))[1].append(node)
        blocks = []
        for module, nodes in by_module.values():
            for node in sorted(nodes, key=lambda n: n.lineno):
                start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
                blocks.append("\n".join(module.lines[start - 1 : node.end_lineno]))
        return "\n\n\n".join(blocks) + "\n"

    def files(self, framework: str, variant: str) -> list[str]:
        return sorted({module.path.name for module, _ in self.pieces(framework, variant)})


def statement_lines(scope: ast.AST, line: int) -> tuple[int, int] | None:
    """The lines of the statement that starts on `line`; only the header of a compound one (class, def, for)."""
    for node in ast.walk(scope):
        if isinstance(node, ast.stmt) and node.lineno == line:
            body = getattr(node, "body", None)
            if body:
                return line, body[0].lineno - 1 if body[0].lineno > line else line
            return line, node.end_lineno
    return None


def enclosing_with(scope: ast.AST, line: int) -> ast.With | None:
    """The innermost `with` statement whose body holds `line`."""
    blocks = [
        node
        for node in ast.walk(scope)
        if isinstance(node, (ast.With, ast.AsyncWith)) and node.body[0].lineno <= line <= node.end_lineno
    ]
    return max(blocks, key=lambda node: node.lineno, default=None)


def api_table(runs: list[tuple[str, str]], frameworks_dir: Path = FRAMEWORKS_DIR) -> pd.DataFrame:
    """Concepts down, one column per run, in the order given."""
    source = Source(frameworks_dir)
    columns = {f"{framework}/{variant}": list(source.api(framework, variant).values()) for framework, variant in runs}
    return pd.DataFrame(columns, index=pd.Index(list(CONCEPTS.values()), name="concept"))


def to_markdown(table: pd.DataFrame) -> str:
    header = (
        "# API differences\n\nWhat each run's code uses for each step: every cell is a line of that run's own "
        "code (tagged `# api:` there), so the table cannot drift from what ran. The code itself is in "
        "`code.md`.\n\n"
    )
    return header + table.to_markdown(disable_numparse=True) + "\n"


def to_html(table: pd.DataFrame) -> str:
    """A standalone page for the report: code in backticks rendered as code."""

    head = "".join(f"<th>{html.escape(column)}</th>" for column in table.columns)
    rows = "".join(
        f"<tr><th>{html.escape(concept)}</th>" + "".join(f"<td>{inline_code(value)}</td>" for value in values) + "</tr>"
        for concept, values in zip(table.index, table.to_numpy(), strict=True)
    )
    return page(
        "API differences", f"<table><thead><tr><th>concept</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def remedies_of(framework: str, frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[str, tuple[str, str]]:
    """`REMEDIES = {variant: (the variant it remedies, cause)}` in the framework's module, read without importing
    it; {} where the module declares none."""
    module = Module(frameworks_dir / f"{framework}.py")
    for node in module.tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "REMEDIES" for t in node.targets):
            remedies = ast.literal_eval(node.value)
            declared = variant_classes(framework, frameworks_dir)
            for remedy, (slow, _) in remedies.items():
                if remedy not in declared or slow not in declared:
                    raise ApiError(f"{module.path}: REMEDIES names {remedy!r} -> {slow!r}, not both in VARIANTS")
            return remedies
    return {}


def code_diff(source: Source, framework: str, slow: str, remedy: str) -> str:
    """The remedy's code against the code of the run it remedies, as a unified diff of their listings."""
    lines = difflib.unified_diff(
        source.listing(framework, slow).splitlines(keepends=True),
        source.listing(framework, remedy).splitlines(keepends=True),
        fromfile=f"{framework}/{slow}",
        tofile=f"{framework}/{remedy}",
    )
    return "".join(lines)


def code_listings(runs: list[tuple[str, str]], frameworks_dir: Path = FRAMEWORKS_DIR) -> dict[str, list[dict]]:
    """{style (variant name): [{"runs": [...], "files": [...], "code": text}]}: runs whose code is the same
    text share one listing (keras_*/fit run tensorflow's `Fit`).

    A remedy (the framework's ``REMEDIES``) is listed under the style of the run it remedies, with
    ``"remedy_of"`` and ``"diff"``: its code as a unified diff against that run's code.
    """
    source = Source(frameworks_dir)
    styles: dict[str, list[dict]] = {}
    for framework, variant in runs:
        code = source.listing(framework, variant)
        slow = remedies_of(framework, frameworks_dir).get(variant, (None,))[0]
        listings = styles.setdefault(slow or variant, [])
        same = next((listing for listing in listings if listing["code"] == code), None)
        if same is None:
            listing = {"runs": [f"{framework}/{variant}"], "files": source.files(framework, variant), "code": code}
            if slow is not None:
                listing.update(remedy_of=[f"{framework}/{slow}"], diff=code_diff(source, framework, slow, variant))
            listings.append(listing)
        else:
            same["runs"].append(f"{framework}/{variant}")
            if slow is not None:
                same["remedy_of"].append(f"{framework}/{slow}")
    return styles


def code_markdown(styles: dict[str, list[dict]]) -> str:
    parts = [
        "# The code of every run\n\nEach run's variant class, its base classes and the functions and classes they "
        "use, copied from the modules that ran (`workflow/lib/tale_of_two/fit/frameworks/`). Grouped by style; runs "
        "that execute the same code share one listing.\n"
    ]
    for style, listings in styles.items():
        parts.append(f"\n## {style}\n")
        for listing in listings:
            parts.append(f"\n### {', '.join(listing['runs'])}\n\nFrom {', '.join(listing['files'])}.\n")
            if "diff" in listing:
                parts.append(
                    f"\nA remedy of {', '.join(listing['remedy_of'])}: its code, as a diff against that run's.\n"
                    f"\n```diff\n{listing['diff']}```\n"
                )
            else:
                parts.append(f"\n```python\n{listing['code']}```\n")
    return "".join(parts)


# One tab per listing, as radio buttons and CSS (no script): the checked one's panel shows, full width.
# 100 characters of 13 px monospace take 780 px: a listing's lines up to 100 characters fit without
# scrolling in any window wider than about 850 px (a test measures it in a browser at 1400 px).
TABS_STYLE = (
    ".tabs{display:flex;flex-wrap:wrap;gap:.25em;align-items:flex-end}"
    ".tabs>input{position:absolute;opacity:0;pointer-events:none}"
    ".tabs>label{padding:.35em .7em;border:1px solid #ccc;border-bottom:none;border-radius:.3em .3em 0 0;"
    "background:#f3f3f3;cursor:pointer;font:13px monospace}"
    ".tabs>input:checked+label{background:#fff;font-weight:bold;box-shadow:0 1px 0 #fff}"
    ".tabs>input:focus-visible+label{outline:2px solid #4a90d9}"
    ".tabs>.style{margin-left:.6em;font:bold 13px sans-serif;color:#555;align-self:center}"
    ".tabs>section{display:none;order:1;width:100%;border-top:1px solid #ccc;padding-top:.4em}"
    ".tabs>section h2{font-size:1.1em;margin:.3em 0}"
    ".highlight pre{font:13px/1.45 monospace;padding:.8em 1em;margin:0;overflow-x:auto;tab-size:4}"
)


def code_html(styles: dict[str, list[dict]]) -> str:
    """One tab per listing (the runs that share its code), grouped by style; each highlighted by Pygments."""
    formatter = HtmlFormatter(cssclass="highlight", style="default")
    tabs, panels, shown = [], [], []
    for style, listings in styles.items():
        tabs.append(f"<span class='style'>{html.escape(style)}:</span>")
        for listing in listings:
            index = len(panels)
            runs = ", ".join(listing["runs"])
            checked = " checked" if index == 0 else ""
            tabs.append(
                f"<input type='radio' name='listing' id='tab-{index}'{checked}>"
                f"<label for='tab-{index}'>{html.escape(runs)}</label>"
            )
            panels.append(
                f"<section id='panel-{index}'><h2>{html.escape(runs)}</h2>"
                f"<p>From {html.escape(', '.join(listing['files']))} ({html.escape(style)} style)</p>"
                f"{listing_html(listing, formatter)}</section>"
            )
            shown.append(f"#tab-{index}:checked~#panel-{index}{{display:block}}")
    intro = (
        "<p>Each run's variant class, its base classes and the functions and classes they use, as they ran "
        "(<code>workflow/lib/tale_of_two/fit/frameworks/</code>). Runs that execute the same code share one tab. "
        "Lines tagged <code># api:</code> are the cells of the API-differences table.</p>"
    )
    body = f"{intro}<div class='tabs'>{''.join(tabs)}{''.join(panels)}</div>"
    return page("The code of every run", body, TABS_STYLE + "".join(shown) + formatter.get_style_defs(".highlight"))


def listing_html(listing: dict, formatter: HtmlFormatter) -> str:
    """A run's code, highlighted; a remedy's as its diff against the run it remedies."""
    if "diff" not in listing:
        return highlight(listing["code"], PythonLexer(), formatter)
    return (
        f"<p>A remedy of {html.escape(', '.join(listing['remedy_of']))}: its code, as a diff against that run's.</p>"
        f"{highlight(listing['diff'], DiffLexer(), formatter)}"
    )
