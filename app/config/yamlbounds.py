"""PyYAML's safe loader with bounds on nesting and on what aliases may add.

The file size is already capped (1 MiB), but YAML can still explode inside it:
- aliases: nine levels of nine aliases to the level below ("billion laughs", 414 bytes)
  stand for 9^9 values; walking or validating them took more than 5 GB;
- nesting: 100k `[` made PyYAML's recursive composer raise RecursionError.

The composer is where both can be seen, with a position, before anything is built:
each node's depth is counted as it is composed, and each alias is charged the number
of values it stands for (its node, with the aliases inside it expanded). Everything
else is `yaml.SafeLoader` unchanged: the same tags, the same constructed data.
A config needs about eight levels and, with anchors for shared zones or settings, a
few hundred aliased values; the bounds leave plenty of room for that.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 32  # nesting levels, counting the document's root mapping as 1
MAX_ALIASED_VALUES = 10_000  # values all aliases together may stand for


class BoundsExceeded(Exception):
    """A document beyond the bounds; `line` and `col` (1-based) are where the offending node
    or alias starts."""

    def __init__(self, event: yaml.Event, message: str) -> None:
        super().__init__(message)
        mark = event.start_mark
        self.line, self.col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        self.message = message


class BoundedSafeLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliased = 0
        self._open_anchors: set[str] = set()  # anchors whose node is still being composed
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)  # raises for an undefined alias
            if node is not None:
                self._charge_alias(event, node)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise BoundsExceeded(event, f"nested more than {MAX_DEPTH} levels deep")
        anchor = event.anchor if isinstance(event, yaml.NodeEvent) else None
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            composed = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)
        return composed

    def _charge_alias(self, event: yaml.AliasEvent, node: yaml.Node) -> None:
        name = event.anchor
        if name in self._open_anchors:
            raise BoundsExceeded(event, f"alias *{name} is used inside the node it names (a recursive structure)")
        values, depth = self._measure(node)
        if self._depth + depth > MAX_DEPTH:
            raise BoundsExceeded(event, f"alias *{name} nests the document more than {MAX_DEPTH} levels deep")
        self._aliased += values
        if self._aliased > MAX_ALIASED_VALUES:
            raise BoundsExceeded(
                event,
                f"aliases expand to more than {MAX_ALIASED_VALUES} values by here (an alias bomb?); "
                "write the values out or use fewer aliases",
            )

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        """Values and depth of a finished node with its aliases expanded. Memoized, so shared
        nodes cost once; recursion is bounded because every alias inside was charged already."""
        known = self._measured.get(id(node))
        if known is not None:
            return known
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        parts = [self._measure(child) for child in children]
        result = (1 + sum(v for v, _ in parts), 1 + max((d for _, d in parts), default=0))
        self._measured[id(node)] = result
        return result
