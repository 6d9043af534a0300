#!/usr/bin/env python
"""Command-line entry point for the django-dbopt demo site."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    # The demo imports as ``example_project``, so the repository root (the folder
    # holding this one) goes first on sys.path, whatever the working directory is.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
