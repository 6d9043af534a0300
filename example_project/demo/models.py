"""The demo's tables: the classic ones that django_dbopt's optimizations target.

Each composite index below serves one page of the demo:

* ``users_login_lookup_idx`` and the partial ``users_active_email_idx``: login lookup;
* ``tasks_dashboard_idx``: a user's open tasks by priority and due date;
* ``audit_security_events_idx``: recent security events of one kind.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> User:
        if not email:
            raise ValueError("Users must have an email address.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if extra_fields["is_staff"] is not True:
            raise ValueError("Superuser must have is_staff=True.")
        if extra_fields["is_superuser"] is not True:
            raise ValueError("Superuser must have is_superuser=True.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A user who logs in with an email address."""

    email = models.EmailField("email address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Whether the user can log into the admin site."
    )
    account_locked_until = models.DateTimeField(
        null=True, blank=True, help_text="Logins are refused until this time."
    )
    failed_login_count = models.PositiveIntegerField(default=0)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        db_table = "users"
        verbose_name = "user"
        verbose_name_plural = "users"
        indexes = (
            models.Index(
                fields=["email", "is_active", "account_locked_until"],
                name="users_login_lookup_idx",
            ),
            models.Index(
                fields=["email"], condition=Q(is_active=True), name="users_active_email_idx"
            ),
        )

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ", 1)[0] if self.full_name else self.email

    def is_locked(self, now: datetime.datetime | None = None) -> bool:
        """Whether logins are refused at ``now`` (default: the current time)."""
        if self.account_locked_until is None:
            return False
        return self.account_locked_until > (now or timezone.now())


class Project(models.Model):
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="projects")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "projects"

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    class Status(models.TextChoices):
        TODO = "todo", "To do"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        BLOCKED = "blocked", "Blocked"

    class Priority(models.IntegerChoices):
        URGENT = 1, "Urgent"
        HIGH = 2, "High"
        NORMAL = 3, "Normal"
        LOW = 4, "Low"

    OPEN_STATUSES: ClassVar[tuple[str, ...]] = (Status.TODO, Status.IN_PROGRESS, Status.BLOCKED)

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    # No single-column index: tasks_dashboard_idx starts with this column.
    assigned_to = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        db_index=False,
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TODO)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    due_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "tasks"
        indexes = (
            models.Index(
                fields=["assigned_to", "status", "priority", "due_date"],
                name="tasks_dashboard_idx",
            ),
        )
        constraints = (
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=4), name="tasks_priority_1_to_4"
            ),
        )

    def __str__(self) -> str:
        return self.title


class AuditLog(models.Model):
    class Action(models.TextChoices):
        LOGIN = "login", "Login"
        LOGOUT = "logout", "Logout"
        PASSWORD_CHANGE = "password_change", "Password change"
        PASSWORD_RESET = "password_reset", "Password reset"
        PERMISSION_CHANGE = "permission_change", "Permission change"
        ACCOUNT_LOCKED = "account_locked", "Account locked"
        DATA_EXPORT = "data_export", "Data export"

    class Result(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_logs"
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    result = models.CharField(max_length=16, choices=Result.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # Indexed only as the last column of audit_security_events_idx.
    created_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "audit_logs"
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = (
            models.Index(
                fields=["action", "result", "created_at"], name="audit_security_events_idx"
            ),
        )

    def __str__(self) -> str:
        return f"{self.action} {self.result} at {self.created_at:%Y-%m-%d %H:%M:%S}"
