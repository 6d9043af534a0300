"""System checks of the backup settings (ids ``django_dbopt.E060``-``E069`` /
``W060``-``W069``). They run only when ``DBOPT["BACKUP"]`` is set and well typed
(type problems are ``E003``); the one needing a connection (``W063``) only when
``databases`` is passed."""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from django_dbopt.conf import SETTING_NAME, get_config
from django_dbopt.validation import find_problems

WHERE = f"{SETTING_NAME}['BACKUP']"


def _configured() -> bool:
    user = getattr(settings, SETTING_NAME, {})
    return (
        isinstance(user, dict) and isinstance(user.get("BACKUP"), dict) and not find_problems(user)
    )


def _key_messages() -> list[CheckMessage]:
    from django_dbopt.backup.crypto import decode_key
    from django_dbopt.backup.errors import BackupError

    config = get_config().backup
    keys = config.encryption_keys
    messages: list[CheckMessage] = []
    if not keys:
        return [
            Warning(
                f"{WHERE} has no ENCRYPTION_KEYS: every backup is encrypted, so "
                "dbopt_backup will refuse to run.",
                hint="Add {'ENCRYPTION_KEYS': {'k1': 'env:DBOPT_BACKUP_KEY'}} and set "
                "DBOPT_BACKUP_KEY to 32 random bytes in base64 "
                '(python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())").',
                id="django_dbopt.W060",
            )
        ]
    if config.encryption_key_id is not None and config.encryption_key_id not in keys:
        messages.append(
            Error(
                f"{WHERE}['ENCRYPTION_KEY_ID'] is {config.encryption_key_id!r}, which is not "
                "a key id of ENCRYPTION_KEYS.",
                hint=f"Use one of: {', '.join(keys)}.",
                id="django_dbopt.E060",
            )
        )
    if config.encryption_key_id is None and len(keys) > 1:
        messages.append(
            Error(
                f"{WHERE}['ENCRYPTION_KEYS'] has {len(keys)} keys and no ENCRYPTION_KEY_ID "
                "says which one new backups use.",
                hint="Set ENCRYPTION_KEY_ID to the newest key's id; keep the old ids to read "
                "old backups.",
                id="django_dbopt.E061",
            )
        )
    for key_id, value in keys.items():
        if value.startswith("env:") and value[4:] not in os.environ:
            messages.append(
                Warning(
                    f"{WHERE}['ENCRYPTION_KEYS'][{key_id!r}] reads the environment variable "
                    f"{value[4:]}, which is not set in this process.",
                    hint="Set it where backups, verifies and restores run (never in the "
                    "repository).",
                    id="django_dbopt.W061",
                )
            )
            continue
        try:
            decode_key(key_id, value)
        except BackupError as e:
            messages.append(
                Error(
                    f"{WHERE}['ENCRYPTION_KEYS'][{key_id!r}]: {e}.",
                    hint="A key is 32 random bytes in base64, or 'env:NAME'.",
                    id="django_dbopt.E062",
                )
            )
    return messages


def check_backup_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not _configured():
        return []
    config = get_config().backup
    messages = _key_messages()
    if not config.location and not config.s3_bucket:
        messages.append(
            Error(
                f"{WHERE} has neither LOCATION nor S3_BUCKET: backups have nowhere to go.",
                hint="Set LOCATION to a folder, S3_BUCKET to a bucket, or both.",
                id="django_dbopt.E063",
            )
        )
    needed = {"zstandard": "compression", "cryptography": "crypto"}
    if config.s3_bucket:
        needed["boto3"] = "s3"
    for module, extra in needed.items():
        if importlib.util.find_spec(module) is None:
            messages.append(
                Error(
                    f"Backups need {module}, which is not installed.",
                    hint=f"pip install 'django-dbopt[{extra}]'.",
                    id="django_dbopt.E064",
                )
            )
    if config.pgbackrest_stanza and shutil.which("pgbackrest") is None:
        messages.append(
            Warning(
                f"{WHERE}['PGBACKREST_STANZA'] is set but pgbackrest is not on PATH here.",
                hint="Install it (Debian: apt-get install pgbackrest) where physical backups "
                "and point-in-time restores run.",
                id="django_dbopt.W062",
            )
        )
    return messages


def check_archive_command(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """With point-in-time recovery configured, ``archive_command`` must feed the stanza."""
    if not databases or not _configured():
        return []
    config = get_config().backup
    if not config.pgbackrest_stanza or config.pgbackrest_database not in databases:
        return []
    from django_dbopt.backup.physical import archive_command_problem, archive_status

    status = archive_status(config.pgbackrest_database)
    problem = status["error"] or archive_command_problem(status)
    if problem is None:
        return []
    stanza, path = config.pgbackrest_stanza, config.pgbackrest_config
    return [
        Warning(
            f"Point-in-time recovery is configured (stanza {stanza!r}) but WAL is not "
            f"archived to it: {problem}.",
            hint=f"Set archive_mode = on and archive_command = 'pgbackrest "
            f"--config={path} --stanza={stanza} archive-push %p' in postgresql.conf "
            "(docs/backups.md).",
            id="django_dbopt.W063",
        )
    ]
