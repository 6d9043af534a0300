"""Read-your-writes on the real primary + standby, through the Django test client."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.core import signing
from django.test import AsyncClient, Client

from django_dbopt.routing import counters, tokens
from django_dbopt.routing.health import monitor
from tests.routing_fixtures import router_on  # noqa: F401  (fixture)
from tests.services import Services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
    pytest.mark.usefixtures("router_on"),
]

COOKIE = "dbopt_lsn"


def read(client: Client, email: str) -> dict[str, object]:
    response = client.get(f"/read/{email}/")
    assert response.status_code == 200
    data: dict[str, object] = response.json()
    return data


def test_writer_reads_its_write_while_others_read_the_lagging_replica(
    services: Services,
) -> None:
    writer, other = Client(), Client()
    services.wait_for_replica()
    monitor.probe_round()
    with services.replay_paused():
        response = writer.post("/write/ryw@example.com/")
        assert response.status_code == 200
        assert COOKIE in response.cookies
        assert response.cookies[COOKIE]["httponly"]

        assert read(writer, "ryw@example.com") == {"alias": "default", "found": True}
        assert read(other, "ryw@example.com") == {"alias": "replica", "found": False}
        # a probe during the pause does not let the writer back on the replica
        monitor.probe_round()
        assert read(writer, "ryw@example.com") == {"alias": "default", "found": True}
    services.wait_for_replica()
    # The last probe still shows the old replay position: the router checks the
    # replica directly before serving the writer from it.
    assert read(writer, "ryw@example.com") == {"alias": "replica", "found": True}
    monitor.probe_round()
    assert read(writer, "ryw@example.com") == {"alias": "replica", "found": True}
    assert counters.snapshot()["primary-after-write"] >= 2


def test_reads_after_a_write_in_the_same_request_stay_on_the_primary(
    services: Services,
) -> None:
    from django_dbopt.routing import routing_scope
    from example_project.demo.models import User

    with services.replay_paused(), routing_scope():
        User.objects.create_user(email="same-request@example.com", password="x")
        queryset = User.objects.filter(email="same-request@example.com")
        assert queryset.db == "default"
        assert queryset.exists()


def _token(**overrides: object) -> str:
    writer = Client()
    writer.post("/write/token-owner@example.com/")
    positions = tokens.loads(writer.cookies[COOKIE].value, 300)
    (position,) = positions.values()
    fields = {"lsn": position.lsn, "system_id": position.system_id, "timeline": 1}
    fields.update(overrides)
    return tokens.dumps({"default": tokens.Position(**fields)})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad_token",
    [
        pytest.param(lambda: _token()[:-3] + "abc", id="tampered"),
        pytest.param(lambda: _token(system_id="6999999999999999999"), id="foreign-cluster"),
        pytest.param(lambda: _token(timeline=7), id="other-timeline"),
        pytest.param(
            lambda: signing.dumps({"default": [2**40, None, 1]}, salt="another.salt"),
            id="other-salt",
        ),
        pytest.param(lambda: "garbage", id="garbage"),
    ],
)
def test_bad_tokens_are_ignored(services: Services, bad_token: object) -> None:
    services.wait_for_replica()
    monitor.probe_round()
    with services.replay_paused():
        value = bad_token()  # type: ignore[operator]
        client = Client()
        client.cookies[COOKIE] = value
        assert read(client, "token-owner@example.com") == {"alias": "replica", "found": False}


def test_a_good_token_is_honoured(services: Services) -> None:
    """The control for the test above: the same token, unaltered, pins the primary."""
    services.wait_for_replica()
    monitor.probe_round()
    with services.replay_paused():
        client = Client()
        client.cookies[COOKIE] = _token()
        assert read(client, "token-owner@example.com") == {"alias": "default", "found": True}


def test_an_expired_token_is_ignored(services: Services) -> None:
    from django.test import override_settings

    services.wait_for_replica()
    monitor.probe_round()
    with services.replay_paused():
        client = Client()
        client.cookies[COOKIE] = _token()
        time.sleep(1.5)
        routing = {**settings.DBOPT["ROUTING"], "COOKIE_MAX_AGE_S": 1}  # type: ignore[index]
        with override_settings(DBOPT={"ROUTING": routing}):
            assert read(client, "token-owner@example.com")["alias"] == "replica"


def test_async_client_carries_the_cookie_too(services: Services) -> None:
    from asgiref.sync import async_to_sync

    services.wait_for_replica()
    monitor.probe_round()
    writer, other = AsyncClient(), AsyncClient()

    async def requests() -> tuple[dict[str, object], dict[str, object]]:
        response = await writer.post("/write/async@example.com/")
        assert COOKIE in response.cookies
        mine = (await writer.get("/async-read/async@example.com/")).json()
        theirs = (await other.get("/async-read/async@example.com/")).json()
        return mine, theirs

    with services.replay_paused():
        mine, theirs = async_to_sync(requests)()
    assert mine == {"alias": "default", "found": True}
    assert theirs == {"alias": "replica", "found": False}


@pytest.mark.parametrize("first", [True, False], ids=["above-sessions", "below-sessions"])
def test_session_saved_on_the_way_out_is_read_back(services: Services, first: bool) -> None:
    """The session row is written after the view; only an outer middleware tracks it."""
    from django.test import override_settings

    services.wait_for_replica()
    monitor.probe_round()
    ours = "django_dbopt.routing.ReadYourWritesMiddleware"
    others = [m for m in settings.MIDDLEWARE if m != ours]
    middleware = [others[0], ours, *others[1:]] if first else [*others, ours]
    client = Client()
    with override_settings(MIDDLEWARE=middleware), services.replay_paused():
        assert client.get("/session/set/blue/").status_code == 200
        value = client.get("/session/get/").json()["value"]
    # below SessionMiddleware (check W021) the session was read from the lagging replica
    assert value == ("blue" if first else None)
