"""Untrusted text (names, paths, runtime messages) made safe to show.

A model file is untrusted input: its op codes, tensor names, descriptions
and metadata, and the file's own path, may hold rich markup (`[/x]`,
`[link=...]`), terminal escape sequences (ESC, CSI, OSC 8 links), newlines
that forge a second error line, bidirectional overrides that reorder what is
shown, characters XML 1.0 forbids (so an SVG would not parse), or bytes that
are not UTF-8 (a file name decoded with surrogateescape). Every view shows
such strings through `visible` (plain strings) or `plain` (rich Text, which
rich never parses as markup), in this one place.
"""

from __future__ import annotations

import re

from rich.text import Text

# C0 and C1 controls and DEL; line/paragraph separators; bidi embeddings,
# overrides and isolates; surrogates (lone: a non-UTF-8 byte of a file name);
# the two noncharacters XML 1.0 forbids.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff\ufffe\uffff]")


def _shown(m: re.Match) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """`text` with every control or invisible-formatting character written as an escape
    (ESC -> "\\x1b", a newline -> "\\n" as "\\x0a"): one line, printable, valid XML text."""
    return _UNSAFE.sub(_shown, str(text))


def plain(text: object, style: str = "") -> Text:
    """A rich Text of untrusted `text`: never parsed as markup, controls made visible."""
    return Text(visible(text), style=style)
