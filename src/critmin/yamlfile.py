"""YAML files validated by a pydantic model, with errors that name the file, line and field.

One loader for every YAML the project reads (company files, price and market scenarios,
contract terms, simulation configs).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from critmin.errors import DataFileError


class Strict(BaseModel):
    """Base of file models: unknown fields are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)



def line_of(node, loc) -> int | None:
    """1-based line of the deepest node on `loc` that exists in the composed YAML."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == str(key)), None)
            if nxt is None:
                return line
            key_node = next(k for k, v in node.value if v is nxt)
            node, line = nxt, key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_yaml_model(path, model: type[BaseModel], error: type[DataFileError] = DataFileError):
    """Parse YAML at `path` into `model`; any problem raises `error` naming field and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(str(path), None, None, f"cannot read: {exc.strerror or exc}") from None
    return parse_yaml_model(text, model, error, source=str(path))


def parse_yaml_model(text: str, model: type[BaseModel],
                     error: type[DataFileError] = DataFileError, *, source: str = "<text>"):
    """Parse YAML `text` into `model`; any problem raises `error` naming `source`, field and
    line."""
    try:
        data, root = yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise error(source, mark.line + 1 if mark else None, None,
                    f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise error(source, 1, None, "expected a mapping of fields at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errs = [{**e, "loc": _data_loc(data, e["loc"])} for e in exc.errors()]
        # with a union (a number or a range), the member that got furthest into the data and
        # did not just reject the input's type says what is wrong
        errs.sort(key=lambda e: (-len(e["loc"]), e["type"].endswith(("_type", "_parsing"))))
        first = errs[0]
        field = ".".join(str(p) for p in first["loc"])
        more = f" (and {len(errs) - 1} more: " + "; ".join(
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in errs[1:4]) + ")" \
            if len(errs) > 1 else ""
        raise error(source, line_of(root, first["loc"]), field,
                    f"{first['msg'].lower()}{more}") from None


def _data_loc(data, loc) -> tuple:
    """`loc` without pydantic's union-member tags ('constrained-float', 'Range', ...): only the
    keys and indices that exist in the data, then whatever follows the data's end."""
    out, node = [], data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, (dict, list)) and not (isinstance(part, str) and (
                "[" in part or "-" in part or part[:1].isupper())):
            out.extend(loc[i:])                  # a missing field: name it
            break
    return tuple(out)
