"""`rag db upgrade`: bring the control plane's database to this version's schema."""

from __future__ import annotations

import typer

from cli.common import reported_errors
from controlplane.db import connect, database_url
from controlplane.migrate import current_revision, upgrade_data_dir
from rag.config import get_settings

app = typer.Typer(help="The control plane's database (keys, KBs, jobs).", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply pending migrations, then import keys, jobs and KBs of an older data directory."""
    settings = get_settings()
    with reported_errors():
        engine = connect(database_url(settings))
        try:
            before = current_revision(engine)
            imported = upgrade_data_dir(settings, engine)
            after = current_revision(engine)
        finally:
            engine.dispose()
    typer.echo(f"control plane schema: {before or 'empty'} -> {after}")
    typer.echo(
        f"imported from {settings.data_dir}: {imported.keys} key(s), {imported.jobs} job(s), "
        f"{imported.kbs} knowledge base(s)"
    )
