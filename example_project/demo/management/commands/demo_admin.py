"""``demo_admin``: create or reset the demo's superuser and print its credentials."""

from __future__ import annotations

import secrets
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from example_project.demo.models import User

DEFAULT_EMAIL = "admin@example.com"


def ensure_superuser(email: str, password: str, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Make ``email`` an active, unlocked superuser with ``password``.

    Returns True when the user was created, False when an existing one was reset.
    """
    manager = User.objects.db_manager(using)
    email = manager.normalize_email(email)
    with transaction.atomic(using=using):
        user = manager.select_for_update().filter(email=email).first()
        if user is None:
            manager.create_superuser(email=email, password=password)
            return True
        user.set_password(password)
        user.is_active = user.is_staff = user.is_superuser = True
        user.account_locked_until = None
        user.failed_login_count = 0
        user.save(using=using)
        return False


class Command(BaseCommand):
    help = "Create (or reset) the demo superuser and print its email and password."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--email",
            default=DEFAULT_EMAIL,
            help=f"The superuser's email, used to log in (default: {DEFAULT_EMAIL}).",
        )
        parser.add_argument(
            "--password",
            default=None,
            help="The password to set (default: a new random one, printed).",
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            choices=tuple(connections),
            help='Database alias (default: "default").',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email: str = options["email"]
        try:
            validate_email(email)
        except ValidationError as e:
            raise CommandError(f"{email!r} is not a valid email address.") from e
        password: str = options["password"] or secrets.token_urlsafe(12)
        if not password.strip():
            raise CommandError("The password must not be blank.")
        created = ensure_superuser(email, password, using=options["database"])
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS("Superuser created." if created else "Superuser reset.")
            )
            self.stdout.write(f"  email:    {User.objects.normalize_email(email)}")
            self.stdout.write(f"  password: {password}")
