"""factory-boy factories for the demo models (tests and small seeds).

For large volumes ``seed_demo`` generates rows without Faker; these are for a few
realistic objects at a time.
"""

from __future__ import annotations

from factory.declarations import LazyFunction, Sequence, SubFactory
from factory.django import DjangoModelFactory, Password
from factory.faker import Faker
from factory.fuzzy import FuzzyChoice

from example_project.demo.models import AuditLog, Project, Task, User

DEFAULT_PASSWORD = "demo-password"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User

    email = Sequence(lambda n: f"user{n}@example.com")
    full_name = Faker("name")
    is_active = True
    password = Password(DEFAULT_PASSWORD)


class ProjectFactory(DjangoModelFactory[Project]):
    class Meta:
        model = Project

    name = Faker("catch_phrase")
    owner = SubFactory(UserFactory)


class TaskFactory(DjangoModelFactory[Task]):
    class Meta:
        model = Task

    title = Faker("sentence", nb_words=5)
    description = Faker("paragraph")
    project = SubFactory(ProjectFactory)
    assigned_to = SubFactory(UserFactory)
    status = FuzzyChoice(Task.Status.values)
    priority = FuzzyChoice(Task.Priority.values)
    due_date = Faker("date_between", start_date="-30d", end_date="+60d")


class AuditLogFactory(DjangoModelFactory[AuditLog]):
    class Meta:
        model = AuditLog

    user = SubFactory(UserFactory)
    action = AuditLog.Action.LOGIN
    result = AuditLog.Result.SUCCESS
    ip_address = Faker("ipv4")
    user_agent = Faker("user_agent")
    details = LazyFunction(dict)
