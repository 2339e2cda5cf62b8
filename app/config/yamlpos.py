"""YAML loading that remembers where every key and value was written.

PyYAML's safe loader builds the data (what `yaml.safe_load` does); a second composition
with the same loader gives the node tree whose marks we index by key path, so a
validation error on `rules[0].min_dwell` can be reported at its line and column.
(Two passes: constructing merges `<<` keys into the node tree, which would read as
duplicates.) Duplicate keys, which PyYAML silently overwrites, are found on the node tree.

Both passes are bounded (`app.config.yamlbounds`): nesting depth and what aliases may add,
so a "billion laughs" file or 100k nested `[` is an error at its line, not gigabytes or a
RecursionError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from app.config.yamlbounds import BoundedSafeLoader, BoundsExceeded

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based

    @classmethod
    def of(cls, mark: yaml.Mark) -> Mark:
        return cls(mark.line + 1, mark.column + 1)


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in a config file, at a place a human can find."""

    mark: Mark
    path: str
    message: str

    def format(self, filename: str) -> str:
        return f"{filename}:{self.mark.line}:{self.mark.col}: {self.path}: {self.message}"


class YamlError(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.message for i in issues))
        self.issues = issues


@dataclass
class Positions:
    """Key path → (mark of the key, mark of the value)."""

    keys: dict[Path, Mark]
    values: dict[Path, Mark]

    def value(self, path: Path) -> Mark:
        """Mark of the deepest known value on `path` (the document start at worst)."""
        for end in range(len(path), -1, -1):
            found = self.values.get(_norm(path[:end]))
            if found is not None:
                return found
        return Mark(1, 1)

    def key(self, path: Path) -> Mark | None:
        return self.keys.get(_norm(path))


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _norm(path: Path) -> Path:
    return tuple(p if isinstance(p, int) else str(p) for p in path)


def load(text: str) -> tuple[Any, Positions]:
    """Parse YAML text; raise YamlError with positions for syntax errors and duplicate keys."""
    try:
        root = _compose(text)
        data = _construct(text)
    except BoundsExceeded as exc:
        raise YamlError([Issue(Mark(exc.line, exc.col), "(yaml)", exc.message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark.of(mark) if mark is not None else Mark(1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError([Issue(where, "(yaml)", f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Issue(Mark(1, 1), "(yaml)", f"YAML error: {exc}")]) from None
    positions = Positions({}, {})
    issues: list[Issue] = []
    if root is not None:
        positions.values[()] = Mark.of(root.start_mark)
        data = _walk(root, data, (), positions, issues)
    if issues:
        raise YamlError(issues)
    return data, positions


def _compose(text: str) -> yaml.Node | None:
    loader = BoundedSafeLoader(text)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


def _construct(text: str) -> Any:
    """What `yaml.safe_load(text)` returns, within the same bounds."""
    loader = BoundedSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _walk(node: yaml.Node, data: Any, path: Path, pos: Positions, issues: list[Issue]) -> Any:
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        seen: dict[str, Mark] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            here = Mark.of(key_node.start_mark)
            if key == "<<":  # merge key: its entries were merged into `data` by the loader
                continue
            if key in seen:
                first = seen[key]
                issues.append(
                    Issue(
                        here, format_path((*path, key)), f"duplicate key '{key}' (first written at line {first.line})"
                    )
                )
                continue
            seen[key] = here
            child = (*path, key)
            pos.keys[child] = here
            pos.values[child] = Mark.of(value_node.start_mark)
            constructed = _lookup(data, key)
            if constructed is not _MISSING:
                fixed = _walk(value_node, constructed[1], child, pos, issues)
                data[constructed[0]] = fixed
        return data
    if isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        for index, (item_node, item) in enumerate(zip(node.value, data, strict=False)):
            child = (*path, index)
            pos.values[child] = Mark.of(item_node.start_mark)
            data[index] = _walk(item_node, item, child, pos, issues)
        return data
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith((":int", ":float")) and ":" in node.value:
        # YAML 1.1 reads an unquoted 22:00 as the base-60 number 1320; keep the text.
        return node.value
    return data


_MISSING = object()


def _lookup(data: dict[Any, Any], key: str) -> Any:
    """Find the constructed dict entry for a scalar key node (keys may be int/bool).
    One lookup per key: a scan of the mapping per key made 3000 integer keys take 90 s."""
    if key in data:
        return (key, data[key])
    try:
        resolved = yaml.safe_load(key)
        if resolved in data:
            return (resolved, data[resolved])
    except (yaml.YAMLError, TypeError):  # TypeError: a key that resolves to something unhashable
        pass
    return _MISSING
