"""The one web service `critmin serve` runs: the analyst pages (`critmin.web`) and the export
registry's API (`critmin.registry.api`, under /api/registry) in one FastAPI app."""

from __future__ import annotations

import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from fastapi import FastAPI


def create_app(database_url: str | None = None, *, migrate: bool = True,
               warehouse_path: str | Path | None = None) -> FastAPI:
    """The combined app on the registry at `database_url` (default: `CRITMIN_DATABASE_URL`,
    else the SQLite file in critmin's home), created or upgraded first when `migrate`.
    `warehouse_path`: the DuckDB warehouse (default critmin's own, built when missing)."""
    from critmin.registry import api
    from critmin.registry.db import init_db, make_engine
    from critmin.web._common import Warehouse
    from critmin.web.app import create_router
    from critmin.web.registry_pages import create_registry_pages
    engine = init_db(database_url) if migrate else make_engine(database_url)
    # no /docs page: Swagger UI loads its scripts from a CDN, and critmin works offline
    app = FastAPI(title="critmin", version="1", docs_url=None, redoc_url=None,
                  lifespan=api.lifespan,
                  openapi_url="/api/openapi.json",
                  description="Critical-mineral supply chains: analyst pages and the export "
                              "registry API.")
    app.include_router(create_router(warehouse_path))
    app.include_router(create_registry_pages())
    return api.install(app, engine, warehouse=Warehouse(warehouse_path).cursor)


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers (`critmin serve --workers N`): the database URL comes from
    `CRITMIN_DATABASE_URL`; migrations already ran in the parent process."""
    return create_app(os.environ.get("CRITMIN_DATABASE_URL"), migrate=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server started next)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(url: str, proc, log_path, *, timeout_s: float = 60.0) -> None:
    """Poll GET `url` until it answers 200. RuntimeError with the end of the server's log at
    `log_path` when the server process `proc` exits first or `timeout_s` seconds pass."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: "
                               f"{Path(log_path).read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not answer {url} within {timeout_s:g} s")
        time.sleep(0.1)
