"""``TwoTierCache``'s ``OPTIONS``, defined once: the keys, their types, defaults and
smallest values. The backend builds its configuration from them (``from_options``) and
the system checks validate a project's dict against them (``validation.find_option_problems``).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from django_dbopt.cache.codec import DEFAULT_MAX_BYTES, ValueCodec, derive_key
from django_dbopt.conf import MIN

#: what ``CODEC`` may name (``codec.py``)
CODECS = ("zstd", "zlib", "none")


@dataclass(frozen=True)
class TwoTierOptions:
    """One field per ``OPTIONS`` key (the key is the field's name upper-cased)."""

    #: the Redis alias of the second tier; ``None``: L1-only mode (one process's memory)
    l2: str | None = "redis"
    l1_max_bytes: int = field(default=64 * 1024 * 1024, metadata={MIN: 0})
    #: seconds an L1 entry lives at most
    l1_timeout: float = field(default=5.0, metadata={MIN: 0})
    #: one of ``CODECS``
    codec: str = "zstd"
    compress_min_bytes: int = field(default=1024, metadata={MIN: 0})
    breaker_failures: int = field(default=3, metadata={MIN: 1})
    #: seconds
    breaker_reset: float = field(default=1.0, metadata={MIN: 0})
    #: seconds; at least ``L1_LEASE`` (or 0: no restart protection)
    restart_quarantine: float = field(default=3.0, metadata={MIN: 0})
    #: seconds
    l1_lease: float = field(default=1.0, metadata={MIN: 0.05})
    #: writers wait for every L1 lease holder to apply their invalidations
    ack_invalidations: bool = True
    #: "pickle" or "signed" (codec.py)
    serializer: str = "pickle"
    #: the secret signed values are keyed from (None: SECRET_KEY and its fallbacks)
    signing_key: str | None = field(default=None, repr=False)
    #: a stored value that would decode to more bytes than this is refused (a miss)
    max_value_bytes: int = field(default=DEFAULT_MAX_BYTES, metadata={MIN: 1024})

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TwoTierOptions:
        """The options of a ``CACHES`` entry (unknown keys are left to the checks),
        each coerced to its field's type."""
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key = f.name.upper()
            if key not in options:
                continue
            value, kind = options[key], hints[f.name]
            if value is None and typing.get_origin(kind) is not None:
                values[f.name] = None  # ``X | None``
                continue
            base = next(a for a in (*typing.get_args(kind), kind) if a is not type(None))
            values[f.name] = base(value)
        return cls(**values)

    def make_codec(self) -> ValueCodec:
        """The codec values are stored with (signed: keyed from ``SIGNING_KEY`` or
        ``SECRET_KEY`` and its fallbacks)."""
        keys: list[bytes] = []
        if self.serializer == "signed":
            if self.signing_key is not None:
                keys = [derive_key(self.signing_key)]
            else:
                secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
                keys = [derive_key(s) for s in secrets]
        return ValueCodec(
            self.codec, self.compress_min_bytes, max_bytes=self.max_value_bytes, keys=keys
        )
