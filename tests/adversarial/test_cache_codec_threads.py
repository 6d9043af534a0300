"""Found by the admin's browser tests (issue 16): ``ValueCodec`` shares one
``ZstdCompressor`` and one ``ZstdDecompressor`` between threads, which python-zstandard
does not allow. Two requests of a threaded server (runserver, gunicorn ``gthread``, ASGI
thread pools) storing or reading compressed values at once fail with
``ZstdError: cannot compress: Src size is incorrect`` (a 500) or crash the process with a
segmentation fault. Fixed with one compressor and one decompressor per thread."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("zstandard")

CHILD = """
import os, threading
from django_dbopt.cache.codec import ValueCodec
codec = ValueCodec("zstd", 16)
errors = []
def work():
    value = [os.urandom(8).hex() * 500 for _ in range(20)]
    for _ in range(300):
        try:
            assert codec.loads(codec.dumps(value)) == value
        except Exception as e:
            errors.append(repr(e))
            return
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("errors", len(errors), errors[:1])
"""


def test_compressed_values_from_several_threads_at_once() -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300, check=False
    )
    assert child.returncode == 0, f"the process died ({child.returncode}): {child.stderr[-500:]}"
    assert "errors 0 " in child.stdout, child.stdout
