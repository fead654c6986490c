"""Helpers for Streamlit AppTest tests shared by the dashboard test files."""
from __future__ import annotations

from streamlit.testing.v1.element_tree import Block


def in_order(at) -> list:
    """The main area's elements of an AppTest run, in document order."""
    def walk(node):
        if isinstance(node, Block):
            for index in sorted(node.children):
                yield from walk(node.children[index])
        else:
            yield node
    return list(walk(at.main))
