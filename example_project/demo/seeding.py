"""Fast generation of realistic demo rows (used by the ``seed_demo`` command).

Faker per row is far too slow for 100k rows, so values come from a ``random.Random``
(reproducible with a seed) and short word lists; rows go in with ``bulk_create``, one
transaction per batch. Every seeded user shares one password, hashed once.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.contrib.auth.hashers import make_password
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models import Max
from django.utils import timezone

from example_project.demo.models import AuditLog, Project, Task, User

SEED_PASSWORD = "demo-password"

#: Called as ``progress(label, done, total)`` after each batch (and once with done=0).
Progress = Callable[[str, int, int], None]

_M = TypeVar("_M", bound=models.Model)

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Ana", "Ben", "Chen", "Chloe", "Dara", "David", "Elena",
    "Emeka", "Eva", "Farah", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jade", "Jonas",
    "Kai", "Lena", "Leo", "Lina", "Marco", "Maya", "Mei", "Nia", "Noah", "Omar",
    "Priya", "Rafael", "Rosa", "Sam", "Sara", "Tariq", "Uma", "Victor", "Yara", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abebe", "Alvarez", "Andersen", "Baker", "Chen", "Costa", "Dubois", "Evans", "Fischer",
    "Garcia", "Gupta", "Hansen", "Ito", "Jensen", "Khan", "Kim", "Kowalski", "Lopez",
    "Martin", "Moreau", "Mueller", "Nakamura", "Novak", "Okafor", "Olsen", "Park",
    "Patel", "Petrov", "Rossi", "Santos", "Schmidt", "Silva", "Smith", "Tanaka",
    "Taylor", "Nguyen", "Wang", "Weber", "Wilson", "Yilmaz",
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
PROJECT_ADJECTIVES = (
    "Apollo", "Atlas", "Blue", "Cobalt", "Falcon", "Granite", "Harbor", "Juniper",
    "Kestrel", "Lumen", "Mercury", "Nimbus", "Orion", "Quartz", "Sierra", "Vega",
)  # fmt: skip
PROJECT_NOUNS = (
    "API", "billing", "checkout", "data platform", "dashboard", "migration", "mobile app",
    "onboarding", "reporting", "search", "security review", "website",
)  # fmt: skip
TASK_VERBS = (
    "Add", "Audit", "Clean up", "Design", "Document", "Fix", "Investigate", "Migrate",
    "Optimize", "Refactor", "Review", "Test", "Update", "Write",
)  # fmt: skip
TASK_OBJECTS = (
    "login form", "password reset flow", "invoice export", "search results page",
    "user settings", "audit trail", "nightly backup", "cache layer", "email templates",
    "API pagination", "permissions matrix", "onboarding checklist", "slow report query",
    "CSV import", "notification service", "dashboard widgets", "error pages",
)  # fmt: skip
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "python-requests/2.31.0",
    "curl/8.5.0",
)

STATUSES = tuple(Task.Status.values)
STATUS_WEIGHTS = (35, 20, 35, 10)  # todo, in_progress, done, blocked
PRIORITIES = tuple(Task.Priority.values)
PRIORITY_WEIGHTS = (10, 25, 45, 20)  # urgent, high, normal, low
ACTIONS = tuple(AuditLog.Action.values)
ACTION_WEIGHTS = (55, 20, 6, 5, 4, 3, 7)
RESULTS = tuple(AuditLog.Result.values)
RESULT_WEIGHTS: dict[str, tuple[int, int, int]] = {  # success, failure, denied
    AuditLog.Action.LOGIN: (80, 17, 3),
    AuditLog.Action.LOGOUT: (100, 0, 0),
    AuditLog.Action.ACCOUNT_LOCKED: (100, 0, 0),
    AuditLog.Action.PERMISSION_CHANGE: (85, 0, 15),
}
DEFAULT_RESULT_WEIGHTS = (92, 6, 2)
FAILURE_REASONS = ("bad_password", "unknown_email", "account_locked", "expired_token")


class SeedError(ValueError):
    """The requested seed cannot be made (e.g. tasks without any user)."""


@dataclass(frozen=True)
class SeedCounts:
    users: int = 0
    projects: int = 0
    tasks: int = 0
    audit_logs: int = 0


def clear_demo_data(using: str = DEFAULT_DB_ALIAS) -> SeedCounts:
    """Delete audit logs, tasks, projects and every user who is neither staff nor
    superuser (so admin accounts survive a reseed)."""
    with transaction.atomic(using=using):
        audit_logs, _ = AuditLog.objects.using(using).all().delete()
        tasks, _ = Task.objects.using(using).all().delete()
        projects, _ = Project.objects.using(using).all().delete()
        users = User.objects.using(using).filter(is_staff=False, is_superuser=False)
        # Count users alone: delete() also counts their cascaded rows.
        user_count = users.count()
        users.delete()
    return SeedCounts(users=user_count, projects=projects, tasks=tasks, audit_logs=audit_logs)


def seed(
    *,
    users: int,
    tasks: int,
    audit_logs: int,
    projects: int | None = None,
    batch_size: int = 5000,
    using: str = DEFAULT_DB_ALIAS,
    random_seed: int | None = None,
    progress: Progress | None = None,
) -> SeedCounts:
    """Add ``users``, ``projects``, ``tasks`` and ``audit_logs`` rows to ``using``.

    ``projects`` defaults to one per four new users (at least one when tasks are
    requested and none exists). Tasks and projects go to existing and new users alike.
    """
    for name, value in (("users", users), ("tasks", tasks), ("audit_logs", audit_logs)):
        if value < 0:
            raise SeedError(f"{name} must be zero or more, not {value}.")
    if projects is not None and projects < 0:
        raise SeedError(f"projects must be zero or more, not {projects}.")
    if batch_size < 1:
        raise SeedError(f"batch_size must be at least 1, not {batch_size}.")

    generator = _Generator(random.Random(random_seed), timezone.now())
    report: Progress = progress or (lambda label, done, total: None)

    if users:
        start = User.objects.using(using).aggregate(m=Max("pk"))["m"] or 0
        password = make_password(SEED_PASSWORD)
        _insert(
            User, lambda i: generator.user(start + i + 1, password), users,
            "users", batch_size, using, report,
        )  # fmt: skip
    user_ids = list(User.objects.using(using).order_by("pk").values_list("pk", flat=True))

    if projects is None:
        projects = users // 4
        if tasks and not projects and not Project.objects.using(using).exists():
            projects = 1
    if (projects or tasks) and not user_ids:
        raise SeedError("Projects and tasks need users: add some with --users.")
    if projects:
        _insert(
            Project, lambda i: generator.project(user_ids), projects,
            "projects", batch_size, using, report,
        )  # fmt: skip

    if tasks:
        project_ids = list(Project.objects.using(using).values_list("pk", flat=True))
        _insert(
            Task, lambda i: generator.task(project_ids, user_ids), tasks,
            "tasks", batch_size, using, report,
        )  # fmt: skip

    if audit_logs:
        _insert(
            AuditLog, lambda i: generator.audit_log(user_ids), audit_logs,
            "audit logs", batch_size, using, report,
        )  # fmt: skip

    return SeedCounts(users=users, projects=projects, tasks=tasks, audit_logs=audit_logs)


def _insert(
    model: type[_M],
    make: Callable[[int], _M],
    total: int,
    label: str,
    batch_size: int,
    using: str,
    report: Progress,
) -> None:
    done = 0
    report(label, done, total)
    while done < total:
        batch = [make(i) for i in range(done, min(done + batch_size, total))]
        with transaction.atomic(using=using):
            model._default_manager.using(using).bulk_create(batch, batch_size=batch_size)
        done += len(batch)
        report(label, done, total)


class _Generator:
    """Plausible field values, drawn from one ``random.Random``."""

    def __init__(self, rng: random.Random, now: datetime.datetime) -> None:
        self.rng = rng
        self.now = now
        self.today = timezone.localdate(now)

    def _past(self, days: int) -> datetime.datetime:
        return self.now - datetime.timedelta(seconds=self.rng.randrange(days * 86_400))

    def _pick_user(self, user_ids: Sequence[int]) -> int:
        # Squaring skews toward the oldest users: a few people get most of the work,
        # as in real trackers (and the first user's dashboard is a busy one).
        return user_ids[int(len(user_ids) * self.rng.random() ** 2)]

    def user(self, number: int, password: str) -> User:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        date_joined = self._past(730)
        roll = rng.random()
        locked_until: datetime.datetime | None = None
        failed = 0
        if roll < 0.03:  # locked now, after too many failures
            locked_until = self.now + datetime.timedelta(minutes=rng.randint(5, 24 * 60))
            failed = rng.randint(5, 10)
        elif roll < 0.08:  # was locked once; the lock has expired
            locked_until = self.now - datetime.timedelta(days=rng.randint(1, 90))
        elif roll < 0.20:
            failed = rng.randint(1, 4)
        last_login = (
            date_joined + (self.now - date_joined) * rng.random() if rng.random() < 0.8 else None
        )
        return User(
            email=f"{first}.{last}.{number}@{rng.choice(DOMAINS)}".lower(),
            full_name=f"{first} {last}",
            password=password,
            is_active=rng.random() < 0.95,
            account_locked_until=locked_until,
            failed_login_count=failed,
            date_joined=date_joined,
            last_login=last_login,
        )

    def project(self, user_ids: Sequence[int]) -> Project:
        rng = self.rng
        return Project(
            name=f"{rng.choice(PROJECT_ADJECTIVES)} {rng.choice(PROJECT_NOUNS)}",
            owner_id=self._pick_user(user_ids),
            created_at=self._past(730),
        )

    def task(self, project_ids: Sequence[int], user_ids: Sequence[int]) -> Task:
        rng = self.rng
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        due_date = None
        if rng.random() < 0.85:
            low = -60 if status == Task.Status.DONE else -30
            due_date = self.today + datetime.timedelta(days=rng.randint(low, 90))
        verb, thing = rng.choice(TASK_VERBS), rng.choice(TASK_OBJECTS)
        return Task(
            title=f"{verb} the {thing}",
            description=f"{verb} the {thing} and note the outcome in the project log.",
            project_id=rng.choice(project_ids),
            assigned_to_id=self._pick_user(user_ids) if rng.random() < 0.9 else None,
            status=status,
            priority=rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0],
            due_date=due_date,
            created_at=self._past(365),
        )

    def audit_log(self, user_ids: Sequence[int]) -> AuditLog:
        rng = self.rng
        action = rng.choices(ACTIONS, ACTION_WEIGHTS)[0]
        result = rng.choices(RESULTS, RESULT_WEIGHTS.get(action, DEFAULT_RESULT_WEIGHTS))[0]
        details: dict[str, object] = {}
        if result != AuditLog.Result.SUCCESS:
            details["reason"] = rng.choice(FAILURE_REASONS)
        elif action == AuditLog.Action.DATA_EXPORT:
            details["rows"] = rng.randint(10, 50_000)
        return AuditLog(
            user_id=self._pick_user(user_ids) if user_ids and rng.random() < 0.95 else None,
            action=action,
            result=result,
            ip_address=self._ip_address(),
            user_agent=rng.choice(USER_AGENTS),
            created_at=self._past(90),
            details=details,
        )

    def _ip_address(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.7:
            return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if roll < 0.95:
            return f"203.0.113.{rng.randrange(1, 255)}"
        return f"2001:db8::{rng.randrange(1, 0xFFFF):x}"
