#!/usr/bin/env bash
# Set everything up (virtualenv, dependencies, secrets, database, demo data) and serve on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

# Secrets survive restarts (and are shared by every gunicorn worker) through .env, created once.
if [ ! -f .env ]; then
  .venv/bin/python - <<'PY'
import secrets
from pathlib import Path
Path(".env").write_text(
    f"SECRET_KEY={secrets.token_urlsafe(50)}\nARAGORA_JWT_SECRET={secrets.token_urlsafe(48)}\n"
)
PY
  chmod 600 .env
  echo "Wrote .env with fresh SECRET_KEY and ARAGORA_JWT_SECRET."
fi

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
.venv/bin/python manage.py bootstrap_demo

BIND=${ARAGORA_BIND:-127.0.0.1:8000}
# This serves plain HTTP for local use; behind a TLS proxy in production leave ARAGORA_TLS on (the default).
export ARAGORA_TLS=${ARAGORA_TLS:-false}
echo "Serving on http://$BIND  (API /api/docs/, admin /admin/, dashboard /dashboard/)"
exec .venv/bin/gunicorn aragora_site.wsgi --bind "$BIND" --workers "${WEB_CONCURRENCY:-2}" \
  --access-logfile - --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
