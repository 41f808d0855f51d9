"""The Inputs and Outputs tables of each module's README, generated from its variables.tf and
outputs.tf (terraform-docs is not installable here; python-hcl2 reads the same HCL).

    .venv/bin/python -m tests.readme_tables          # rewrite the tables of every module README
    .venv/bin/python -m tests.readme_tables --check  # exit 1 and name the stale READMEs

An object-typed input links to the README's own section of that name (`#cors`), which describes
its fields: the table says what it is, the section how to fill it in.
"""
from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(p.parent for p in REPO.glob("modules/*/variables.tf"))
_TABLE = re.compile(r"(## {title}\n\n)(\| Name \|.*?\n)(?=\n|\Z)", re.S)


def _unquoted(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    with open(path) as handle:
        parsed = hcl2.load(handle)
    return sorted((_unquoted(name), body) for block in parsed.get(kind, []) for name, body in block.items())


def _type(name: str, raw: Any, sections: set[str]) -> str:
    text = str(raw)
    text = text[2:-1] if text.startswith("${") and text.endswith("}") else text
    if name in sections:  # the README describes the fields in a section of that name
        if text.startswith("object("):
            return f"object, see [{name}](#{name})"
        for collection in ("map", "list", "set"):
            if text.startswith(f"{collection}(object("):
                return f"{collection} of objects, see [{name}](#{name})"
    return f"`{text}`"


def _default(body: dict[str, Any]) -> str:
    if "default" not in body:
        return "required"
    value = body["default"]
    if isinstance(value, str):
        value = _unquoted(value)
        return "`null`" if value == "null" else f"`{json.dumps(value)}`"
    return f"`{json.dumps(value)}`"


def _text(body: dict[str, Any]) -> str:
    description = _unquoted(str(body.get("description", "")))
    heredoc = re.fullmatch(r"<<-?(\w+)\n(.*)\n\s*\1\s*", description, re.S)
    if heredoc:
        description = heredoc.group(2)
    description = " ".join(description.replace("\\n", " ").replace('\\"', '"').split())
    if body.get("sensitive") is True:
        description += " Sensitive."
    return html.escape(description, quote=False).replace("|", "\\|")


def tables(module: Path) -> dict[str, str]:
    sections = set(re.findall(r"^#{2,4} `?([A-Za-z0-9_]+)`?\s*$", (module / "README.md").read_text(), re.M))
    inputs = ["| Name | Type | Default | Description |", "|------|------|---------|-------------|"] + [
        f"| `{name}` | {_type(name, body.get('type', 'any'), sections)} | {_default(body)} | {_text(body)} |"
        for name, body in _blocks(module / "variables.tf", "variable")]
    outputs = ["| Name | Description |", "|------|-------------|"] + [
        f"| `{name}` | {_text(body)} |" for name, body in _blocks(module / "outputs.tf", "output")]
    return {"Inputs": "\n".join(inputs) + "\n", "Outputs": "\n".join(outputs) + "\n"}


def rendered(module: Path) -> tuple[str, str]:
    """The README as it is, and as it should be."""
    readme = (module / "README.md").read_text()
    wanted = readme
    for title, table in tables(module).items():
        pattern = re.compile(_TABLE.pattern.format(title=title), re.S)
        if not pattern.search(wanted):
            raise SystemExit(f"{module / 'README.md'}: no '## {title}' section with a table to generate")
        wanted = pattern.sub(lambda m: m.group(1) + table, wanted, count=1)
    return readme, wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale READMEs (exit 1)")
    args = parser.parse_args(argv)
    stale = []
    for module in MODULES:
        readme, wanted = rendered(module)
        if readme != wanted:
            stale.append(module.name)
            if not args.check:
                (module / "README.md").write_text(wanted)
    if stale:
        print(("stale: " if args.check else "rewrote: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
