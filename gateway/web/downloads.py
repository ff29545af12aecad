"""The ``Content-Disposition`` of a file the gateway hands out, whatever its name holds.

A name built from a class or a person's input ("CAP1-Ā", a quote) cannot go into a
header as it is: HTTP headers are Latin-1, and a quote would end the name. The header
carries an ASCII stand-in for old clients and the exact name as RFC 6266 / RFC 5987
``filename*`` for the others.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def disposition(filename: str, *, inline: bool = False) -> dict[str, str]:
    """The header that names the file: inline (a PDF opened in the browser) or as an attachment."""
    plain = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    plain = _UNSAFE.sub("_", plain).strip() or "export"
    kind = "inline" if inline else "attachment"
    return {"Content-Disposition": f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"}
