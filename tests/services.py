"""The real services tests run against: PostgreSQL and Redis on loopback, one database each per xdist worker."""

from __future__ import annotations

import os

import psycopg2
import redis

PG_HOST = os.environ.get("GANGLION_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("GANGLION_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("GANGLION_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("GANGLION_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("GANGLION_TEST_REDIS_PORT", "6379"))


def worker_index(worker_id: str) -> int:
    """0 for a plain run, n+1 for xdist's gw<n>."""
    return int(worker_id[2:]) + 1 if worker_id.startswith("gw") else 0


def recreate_pg_database(name: str) -> None:
    drop_pg_database(name)
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    connection.close()


def drop_pg_database(name: str) -> None:
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    connection.close()


def pg_database_args(name: str) -> dict[str, object]:
    return {"user": PG_USER, "dbname": name, "host": PG_HOST, "port": PG_PORT, "cp_min": 1, "cp_max": 10}


def redis_db_for(index: int) -> int:
    """Redis databases 1..15 for tests, so a developer's db 0 is never touched."""
    return 1 + index % 15


def redis_client(db: int) -> redis.Redis:
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
