"""`chatdesk db upgrade` started several times at once (a migrate Job retried, several servers
of the embedded default): one migrates, the others wait and find nothing to do."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import fresh_postgres_database
from tests.support.servers import CHATDESK

AT_ONCE = 3


def _upgrade_at_once(instance: Path, database_url: str) -> list[subprocess.CompletedProcess[str]]:
    environment = {**os.environ, "CHATDESK_INSTANCE_PATH": str(instance),
                   "CHATDESK_DATABASE_URL": database_url, "CHATDESK_ENV": "production",
                   "CHATDESK_SECRET_KEY": "migration-test-" + "k" * 40}
    processes = [subprocess.Popen([str(CHATDESK), "db", "upgrade"], env=environment, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(AT_ONCE)]
    results = []
    for process in processes:
        output, _ = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, output))
    return results


def _assert_migrated_once(results: list[subprocess.CompletedProcess[str]], database_url: str) -> None:
    assert [r.returncode for r in results] == [0] * AT_ONCE, "\n".join(r.stdout for r in results)
    # Exactly one of them applied the first migration; the others found the schema current.
    assert sum("Running upgrade  -> 0001" in r.stdout for r in results) == 1, [r.stdout for r in results]
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        assert len(versions) == 1
        assert connection.execute(sa.text("SELECT count(*) FROM conversations")).scalar() == 0
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_upgrades_on_postgres_migrate_once(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        _assert_migrated_once(_upgrade_at_once(tmp_path, url), url)
        # And again on a current schema: nothing to do, no error.
        assert all(r.returncode == 0 and "Running upgrade" not in r.stdout
                   for r in _upgrade_at_once(tmp_path, url))


@pytest.mark.slow
def test_concurrent_upgrades_on_sqlite_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chatdesk.db'}"
    _assert_migrated_once(_upgrade_at_once(tmp_path, url), url)
