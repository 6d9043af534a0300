# Sourced by scripts/demo and scripts/test: make .venv and install the project into it,
# again only when pyproject.toml changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $python"
    "$python" -m venv .venv
fi
stamp=.venv/.dbopt-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1) ${1:-dev}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing django-dbopt[${1:-dev}] into .venv"
    # (grep drops this machine's pip warnings about unused local index folders)
    { .venv/bin/python -m pip install --quiet --upgrade pip
      .venv/bin/python -m pip install --quiet -e ".[${1:-dev}]"
    } 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    echo "$want" > "$stamp"
fi
