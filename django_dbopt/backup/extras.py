"""What backups need beyond Django, said plainly when it is missing.

The backup commands import the pipeline (``cryptography``, ``zstandard``) when they load;
in a project installed without the ``crypto`` and ``compression`` extras that import
fails. The commands catch it and answer with this ``CommandError`` instead of a traceback.
"""

from __future__ import annotations

from django.core.management.base import CommandError

#: the exit status of a command that cannot run for a missing package
MISSING_EXTRA = 2


def missing_extra_error(error: ImportError) -> CommandError:
    module = (error.name or "a package").split(".")[0]
    return CommandError(
        f"backups need {module}, which is not installed: "
        "pip install 'django-dbopt[compression,crypto]' (and the s3 extra for S3)",
        returncode=MISSING_EXTRA,
    )
