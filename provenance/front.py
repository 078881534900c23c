"""The HTTP front `make run` serves through: waitress, which reads each request whole before a
worker thread sees it, so slow clients (slowloris) hold no thread and cannot stall reads."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="worker threads")
def main(host: str, port: int, threads: int) -> None:
    """Serve the app (settings from the environment, as `flask --app app` reads them)."""
    from waitress import serve

    from provenance.app import create_app
    from provenance.web.context import service

    app = create_app()
    with app.app_context():
        witnessing = service().witnessing
    if witnessing is not None:
        # The last checkpoint before a restart may not have reached every witness yet.
        witnessing.push_latest()
    serve(
        app,
        host=host,
        port=port,
        threads=threads,
        # A request is buffered whole (spooled to disk past 1 MiB) before it is dispatched;
        # these bound what slow or idle connections may hold.
        connection_limit=1000,
        channel_timeout=60,
        cleanup_interval=10,
        max_request_header_size=64 * 1024,
        max_request_body_size=64 * 1024 * 1024,
        ident="provenance",
    )


if __name__ == "__main__":
    main()
