"""The HTTP front `make run` serves through: waitress, which reads each request whole before a
worker thread sees it, so slow clients (slowloris) hold no thread and cannot stall reads."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="PROVENANCE_HOST")
@click.option("--port", default=8000, show_default=True, type=int, envvar="PROVENANCE_PORT")
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=int,
    envvar="PROVENANCE_THREADS",
    help="worker threads",
)
def main(host: str, port: int, threads: int) -> None:
    """Serve the app (settings from the environment, as `flask --app app` reads them); say
    where once the port is bound, so the address printed already answers."""
    from waitress import create_server

    from provenance.app import create_app
    from provenance.web.context import service

    app = create_app()
    with app.app_context():
        witnessing = service().witnessing
    if witnessing is not None:
        # The last checkpoint before a restart may not have reached every witness yet.
        witnessing.push_latest()
    server = create_server(
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
    bound_host = getattr(server, "effective_host", host)
    bound_port = getattr(server, "effective_port", port)
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    click.echo(f"provenance is serving at http://{shown}:{bound_port}/  (Ctrl-C to stop)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
