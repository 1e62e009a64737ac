"""Figures as shared files in the published site.

nbconvert inlines every figure of a report into its page as a ``data:`` URI, and each report
has two pages (the reader view and the view with code), so the built site carries every
figure twice, base64-encoded (a third heavier than the image). When the site is assembled
(``publish``), each inlined image is written once to ``figures/`` under the name of its
content hash, and every page that showed it links that file instead: the two views share one
file, which the browser fetches once and caches.

The pages under ``reports/`` keep their inlined figures: each stays one self-contained file
that can be opened from disk or mailed on its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from pathlib import Path

FOLDER = "figures"
SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}
_INLINE = re.compile(r'(<img\b[^>]*?\ssrc=)(["\'])data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=\s]+)\2',
                     re.IGNORECASE)


def _file_for(match: re.Match, site: Path, page: Path, written: dict[str, int]) -> str:
    prefix, quote, mime, payload = match.groups()
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except binascii.Error:
        return match.group(0)  # not an image we can read: leave the page as it is
    name = hashlib.sha256(data).hexdigest()[:20] + SUFFIX[mime.lower()]
    target = site / FOLDER / name
    if name not in written:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written[name] = len(data)
    link = Path(os.path.relpath(target, (site / page).parent)).as_posix()
    return f"{prefix}{quote}{link}{quote}"


def share(site: Path, pages: list[Path]) -> dict[str, int]:
    """Move the inlined images of ``pages`` (HTML files, relative to ``site``) into
    ``site/figures/``, one file per distinct image; returns {file name: bytes} of those written."""
    written: dict[str, int] = {}
    for page in pages:
        if page.suffix != ".html":
            continue
        path = site / page
        text = path.read_text(encoding="utf-8")
        new = _INLINE.sub(lambda m: _file_for(m, site, page, written), text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return written
