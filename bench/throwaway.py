"""What the bench scripts share: a throwaway PostgreSQL database of their own, and free loopback ports."""

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
