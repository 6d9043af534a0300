"""The invalidation messages a cache publishes and its listeners apply (``state.py``).

Invalidation messages on the channel (``<node> <kind> <ack key or -> <payload>``):

- ``K``: payload is the full keys, each as ``<length in bytes>:<key>`` (a netstring
  without the trailing comma), so a key may hold any character, NUL included: drop them
  from L1;
- ``G``: payload is ``<length>:<generation key>=<new value>`` items, likewise: raise the
  local generations (L1 entries keyed by the old generations can no longer be
  addressed);
- ``c``: everything was cleared: clear L1 and the local generations.

Any other kind (the NUL-separated ``k``/``g`` of older versions, during a rolling
upgrade) clears L1 and the local generations: unknown means "be safe".
"""

from __future__ import annotations

from collections.abc import Sequence


def frame(items: Sequence[str]) -> bytes:
    """``<length>:<item>`` for each item (lengths in bytes of its UTF-8 form)."""
    out = []
    for item in items:
        data = item.encode()
        out.append(b"%d:%s" % (len(data), data))
    return b"".join(out)


def unframe(payload: bytes) -> list[bytes]:
    """The items of ``frame``; raises ``ValueError`` on a malformed payload."""
    items, pos, end = [], 0, len(payload)
    while pos < end:
        colon = payload.index(b":", pos)
        size = int(payload[pos:colon])
        start = colon + 1
        if size < 0 or start + size > end:
            raise ValueError("truncated invalidation message")
        items.append(payload[start : start + size])
        pos = start + size
    return items
