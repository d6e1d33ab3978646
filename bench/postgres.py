"""A PostgreSQL database of a benchmark's own, created afresh (no Django: benchmarks call it before setup)."""

from __future__ import annotations


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    """Drop the database named at the end of `url` (closing its sessions) and, unless `drop_only`, create it."""
    import psycopg
    from psycopg import sql

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
