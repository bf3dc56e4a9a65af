"""Text from files and folders, made safe to print on a terminal or write as one line.

A file name may hold anything but '/' and NUL: a newline that fakes a line of output, an
escape sequence (ESC [ ...) that recolours or rewrites the terminal, or a right-to-left
override that shows ``gpj.exe`` as ``exe.jpg``. ``printable`` shows such characters as
visible escapes, repr-style (``\\n``, ``\\x1b``, ``\\u202e``), and leaves all other text as it is.
"""

from __future__ import annotations

import re

# C0 controls and DEL, C1 controls, the Unicode line and paragraph separators, the bidirectional
# marks, embeddings, overrides and isolates, and lone surrogates (undecodable bytes of a file
# name, which would make print itself fail)
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group(0)
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def printable(text) -> str:
    """``text`` (any object, as str()) with control characters, line separators and bidi marks
    replaced by visible escapes: safe to print, and always a single line."""
    return _UNSAFE.sub(_escape, str(text))
