"""What the bench scripts share: a throwaway PostgreSQL database of their own, the production environment they
run Django in, and free loopback ports."""

import os
import socket
from urllib.parse import urlsplit, urlunsplit


def database_url(server_url: str, name: str) -> str:
    """The URL of the database `name` on the server of `server_url`."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def _admin_execute(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def recreate_database(url: str) -> None:
    """Drop (forcing out any session) and create the database `url` names."""
    name = urlsplit(url).path.lstrip("/")
    _admin_execute(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")


def drop_database(url: str) -> None:
    _admin_execute(url, f"DROP DATABASE IF EXISTS {urlsplit(url).path.lstrip('/')} WITH (FORCE)")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def bench_environment(url: str, *, hosts: str = "testserver", **extra: str) -> None:
    """Run Django (here, and in the processes this one starts) as in production on the database `url`: debug off,
    warnings only, and no broker — a recompute message goes to an in-memory transport (the bench runs it)."""
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="kpiplatform.settings",
        CELERY_BROKER_URL="memory://",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-" + "x" * 60,
        DJANGO_ALLOWED_HOSTS=hosts,
        LOG_LEVEL="WARNING",
        **extra,
    )
