#!/usr/bin/env bash
# Rewrites the initial migration from the current tables (the schema has not shipped yet).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f src/calsync/store/migrations/versions/0001_initial_schema.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from calsync.store.migrate import alembic_config
command.revision(alembic_config(f"sqlite:///{sys.argv[1]}/gen.db"), message="initial schema", autogenerate=True, rev_id="0001")
PY
rm -rf "$tmp"
