"""Running pgBackRest: its configuration file written from ``DBOPT["BACKUP"]``, and the
``pgbackrest`` command run with the cipher passphrase in its environment (never on a
command line), as ``PGBACKREST_OS_USER`` when set."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from django_dbopt.backup import postgres
from django_dbopt.backup.errors import BackupError
from django_dbopt.conf import get_config

#: options that belong to the stanza section (the cluster), the rest go to [global]
_STANZA_PREFIXES = ("pg1-", "pg2-", "pg3-")


def stanza() -> str:
    name = get_config().backup.pgbackrest_stanza
    if not name:
        raise BackupError(
            "point-in-time recovery is not configured: set DBOPT['BACKUP']['PGBACKREST_STANZA']"
        )
    return name


def options(database: str) -> dict[str, str]:
    """pgBackRest's options: ``PGBACKREST_OPTIONS`` over defaults from the alias."""
    config = get_config().backup
    found: dict[str, str] = {}
    settings = postgres.settings_of(database)
    if settings.get("PORT"):
        found["pg1-port"] = str(settings["PORT"])
    if settings.get("USER"):
        found["pg1-user"] = str(settings["USER"])
    if config.pgbackrest_cipher_pass_env:
        found["repo1-cipher-type"] = "aes-256-cbc"
    found.update(config.pgbackrest_options)
    if "pg1-path" not in found:
        with postgres.connect(database) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        if row is None:
            raise BackupError("cannot read data_directory: set PGBACKREST_OPTIONS['pg1-path']")
        found["pg1-path"] = str(row[0])
    return found


def render(database: str) -> str:
    """The configuration file's text."""
    found = options(database)
    lines = ["[global]"]
    lines += [f"{k}={v}" for k, v in sorted(found.items()) if not k.startswith(_STANZA_PREFIXES)]
    lines += ["", f"[{stanza()}]"]
    lines += [f"{k}={v}" for k, v in sorted(found.items()) if k.startswith(_STANZA_PREFIXES)]
    return "\n".join(lines) + "\n"


def config_path() -> Path:
    return Path(get_config().backup.pgbackrest_config).resolve()


def write_config(database: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(database))
    path.chmod(0o640)
    user = get_config().backup.pgbackrest_os_user
    if user and os.geteuid() == 0:
        shutil.chown(path, user=user)
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    variable = get_config().backup.pgbackrest_cipher_pass_env
    if variable:
        if variable not in os.environ:
            raise BackupError(f"the cipher passphrase variable {variable} is not set")
        env["PGBACKREST_REPO1_CIPHER_PASS"] = os.environ[variable]
    return env


def run(command: str, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    """``pgbackrest --config=... --stanza=... <command> <args>``; raises on failure."""
    binary = shutil.which("pgbackrest")
    if binary is None:
        raise BackupError("pgbackrest not found on PATH (Debian: apt-get install pgbackrest)")
    argv = [binary, f"--config={config_path()}", f"--stanza={stanza()}", command, *args]
    try:
        done = subprocess.run(  # noqa: S603 - fixed program, arguments built here
            argv,
            capture_output=True,
            text=True,
            env=_env(),
            timeout=timeout,
            check=False,
            user=get_config().backup.pgbackrest_os_user,
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BackupError(f"pgbackrest {command} could not run: {e}") from e
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise BackupError(f"pgbackrest {command} failed ({done.returncode}): {detail}")
    return done


def info() -> list[dict[str, Any]]:
    """``pgbackrest info --output=json`` for the stanza."""
    done = run("info", "--output=json", timeout=300)
    try:
        parsed: list[dict[str, Any]] = json.loads(done.stdout)
    except ValueError as e:
        raise BackupError(f"pgbackrest info gave no JSON: {done.stdout[:200]}") from e
    return parsed
