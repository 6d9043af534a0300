"""A user's project, built from outside: the wheel in a fresh venv, a ``startproject`` site.

``docs/installation.md`` is followed literally: every fenced block preceded by a marker
comment is applied in order, read from the doc at test time (a doc that drifts fails):

- ``<!-- plain-project: settings.py -->`` / ``urls.py``: appended to the site's file;
- ``<!-- plain-project: shell -->``: each ``python manage.py ...`` line is run;
- ``extra=a,b`` in a marker: the block applies only when those extras are installed.

The site then points its aliases at the suite's servers (host, port, user, database
name only: engines, options and everything else stay as the doc wrote them).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from tests.services import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "installation.md"
#: what the wheel is built from (the source tree, not a checkout's caches or venvs)
SOURCES = ("pyproject.toml", "setup.cfg", "README.md", "LICENSE", "django_dbopt")
DJANGO = "django>=5.2,<6.0"
#: packages that exist only for type checkers: none may be importable in the site
TYPING_ONLY = ("django_stubs_ext", "django-stubs", "mypy")
_MARKER = re.compile(r"<!--\s*plain-project:\s*(\S+)((?:\s+\w+=\S+)*)\s*-->")
_FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.DOTALL)


@dataclass
class Snippet:
    target: str  # "settings.py", "urls.py" or "shell"
    text: str
    extras: frozenset[str] = frozenset()


def doc_snippets(doc: Path = DOC) -> list[Snippet]:
    """The marked fenced blocks of ``doc``, in order."""
    text = doc.read_text()
    found = []
    for marker in _MARKER.finditer(text):
        fence = _FENCE.match(text, text.index("```", marker.end()))
        if fence is None or text[marker.end() : fence.start()].strip():
            raise AssertionError(f"{doc.name}: marker {marker.group(0)} not followed by a block")
        options = dict(o.split("=", 1) for o in marker.group(2).split())
        extras = frozenset(filter(None, options.get("extra", "").split(",")))
        found.append(Snippet(marker.group(1), fence.group(1), extras))
    return found


def clean_environ() -> dict[str, str]:
    """This process's environment without what points into the suite (its settings, venv)."""
    leaks = ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if k not in leaks}


def run(
    cmd: list[str],
    cwd: Path | None = None,
    timeout: float = 600,
    allow_stderr: bool = False,
    **env: str,
) -> str:
    """Run ``cmd``; its stdout, or an AssertionError showing stdout and stderr.

    Anything on stderr fails too (unless ``allow_stderr``): a warning a user would see is
    a failure here.
    """
    done = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean_environ(), **env},
        check=False,
    )
    if done.returncode != 0 or (done.stderr.strip() and not allow_stderr):
        raise AssertionError(
            f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def build_wheel(folder: Path) -> Path:
    """The project's wheel, built from a copy of its sources (nothing written here)."""
    source = folder / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder), "."],
        source,
        allow_stderr=True,
    )
    (wheel,) = folder.glob("django_dbopt-*.whl")
    return wheel


def make_venv(folder: Path, wheel: Path, extras: tuple[str, ...]) -> Path:
    """A fresh venv with the wheel (and ``extras``) and Django 5.2: its python."""
    run([sys.executable, "-m", "venv", str(folder)])
    python = folder / "bin" / "python"
    wanted = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", wanted, DJANGO],
        allow_stderr=True,
    )
    return python


@dataclass
class Site:
    """A ``startproject`` site in ``folder`` run by the venv's ``python``."""

    python: Path
    folder: Path
    extras: frozenset[str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def package(self) -> Path:
        return self.folder / "mysite"

    def create(self, servers: str) -> None:
        """Set the site up as the doc says; ``servers`` (connection parameters) goes after
        the doc's settings, before its commands run."""
        admin = self.python.parent / "django-admin"
        run([str(admin), "startproject", "mysite", str(self.folder)], self.folder.parent)
        snippets = [s for s in doc_snippets() if s.extras <= self.extras]
        for snippet in snippets:
            if snippet.target != "shell":
                with (self.package / snippet.target).open("a") as f:
                    f.write(f"\n{snippet.text}")
        with (self.package / "settings.py").open("a") as f:
            f.write(servers)
        for snippet in snippets:
            if snippet.target == "shell":
                for line in snippet.text.splitlines():
                    if line.startswith("python manage.py "):
                        self.manage(*line.split("#")[0].split()[2:])

    def manage(self, *args: str, timeout: float = 300, allow_stderr: bool = False) -> str:
        return run(
            [str(self.python), "manage.py", *args],
            self.folder,
            timeout,
            allow_stderr=allow_stderr,
            **self.env,
        )

    def commands(self) -> list[str]:
        listed = self.manage("help", "--commands").split()
        return sorted(c for c in listed if c.startswith("dbopt_"))

    def admin_urls(self) -> list[str]:
        """Every django-dbopt admin URL that takes no argument, reversed in the site."""
        script = (
            "import json\n"
            "from django.contrib import admin\n"
            "from django.urls import reverse\n"
            "names = []\n"
            "for model, model_admin in admin.site._registry.items():\n"
            "    if model._meta.app_label != 'django_dbopt': continue\n"
            "    for p in model_admin.get_urls():\n"
            "        if p.name and not p.pattern.converters:\n"
            "            names.append(reverse('admin:' + p.name))\n"
            "print(json.dumps(sorted(set(names))))\n"
        )
        urls: list[str] = json.loads(self.manage("shell", "-c", script).strip().splitlines()[-1])
        return urls

    def import_failures(self) -> dict[str, str]:
        """Every module of ``django_dbopt`` imported in the site: ``{module: error}``."""
        script = (
            "import importlib, json, pkgutil, django\n"
            "django.setup()\n"
            "import django_dbopt\n"
            "failed = {}\n"
            "for m in pkgutil.walk_packages(django_dbopt.__path__, 'django_dbopt.'):\n"
            "    try:\n"
            "        importlib.import_module(m.name)\n"
            "    except ImportError as e:\n"
            "        failed[m.name] = f'{type(e).__name__}: {e.name}'\n"
            "    except Exception as e:\n"
            "        failed[m.name] = f'{type(e).__name__}: {e}'\n"
            "print(json.dumps(failed))\n"
        )
        out = self.manage("shell", "-c", script).strip().splitlines()[-1]
        failures: dict[str, str] = json.loads(out)
        return failures

    def uninstalled(self, modules: tuple[str, ...]) -> list[str]:
        """Those of ``modules`` that the venv can import (should be none)."""
        script = (
            "import importlib.util, sys\n"
            "print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m)))"
        )
        out = run([str(self.python), "-c", script, *modules])
        return out.split()


class Server:
    """``manage.py runserver`` on a free port, and a logged-in browser-like client."""

    def __init__(self, site: Site) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = site.folder / "runserver.log"
        self._log = self.log.open("w")
        self.process = subprocess.Popen(
            [str(site.python), "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=site.folder,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**clean_environ(), **site.env},
            start_new_session=True,
        )
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        wait_until(self._up, timeout=120, interval=0.2, what=f"runserver on {self.base}")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"runserver exited:\n{self.log.read_text()}")
        try:
            self.get("/dbopt/health/live/")
        except OSError:
            return False
        return True

    def get(self, url: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + url, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def login(self, username: str, password: str) -> None:
        _, page = self.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page
        data = urllib.parse.urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token.group(1),
                "next": "/admin/",
            }
        ).encode()
        request = urllib.request.Request(
            self.base + "/admin/login/", data, headers={"Referer": self.base + "/admin/login/"}
        )
        with self.opener.open(request, timeout=60) as response:
            assert response.url.endswith("/admin/"), f"login failed, at {response.url}"

    def crawl(self, start: list[str], prefix: str, limit: int = 80) -> Iterator[tuple[str, int]]:
        """GET ``start`` and the links under ``prefix`` they lead to (breadth first)."""
        seen: set[str] = set()
        queue = list(start)
        while queue and len(seen) < limit:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            status, page = self.get(url)
            yield url, status
            links = _Links()
            links.feed(page)
            queue += [u for u in links.found if u.startswith(prefix) and u not in seen]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        self._log.close()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith("/") and "#" not in href:
            self.found.append(href)
