"""HTML to readable plain text with the stdlib parser: no scripts or styles, blocks on new lines."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "canvas", "iframe"})
_LINES = frozenset(
    {
        "address", "article", "aside", "br", "dd", "div", "dl", "dt", "fieldset", "figcaption",
        "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol", "section", "title",
        "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPHS = frozenset({"p", "pre", "blockquote", "table", "h1", "h2", "h3", "h4", "h5", "h6"})
_HEADINGS = {f"h{level}": "#" * level + " " for level in range(1, 7)}
_SPACES = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    """Collects text; block tags request line breaks, which coalesce until the next text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0
        self._pre_depth = 0
        self._pending_breaks = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        self._request_break(tag)
        if tag in _HEADINGS:
            self._emit(_HEADINGS[tag])
        elif tag == "li":
            self._emit("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        self._request_break(tag)
        if tag in ("td", "th"):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        if self._pre_depth:
            self._emit(data)
            return
        text = _SPACES.sub(" ", data)
        if text.strip():
            self._emit(text.lstrip() if self._at_line_start() else text)
        elif self.parts and not self._at_line_start():
            self.parts.append(" ")

    def _request_break(self, tag: str) -> None:
        wanted = 2 if tag in _PARAGRAPHS else 1 if tag in _LINES else 0
        self._pending_breaks = max(self._pending_breaks, wanted)

    def _emit(self, text: str) -> None:
        if self._pending_breaks and self.parts:
            self.parts.append("\n" * self._pending_breaks)
        self._pending_breaks = 0
        self.parts.append(text)

    def _at_line_start(self) -> bool:
        return self._pending_breaks > 0 or not self.parts or self.parts[-1].endswith("\n")


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (line.rstrip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(lines).strip("\n")
