"""Alembic environment of the registry: the engine comes from `critmin.registry.db`
(`config.attributes["engine"]`), else from `sqlalchemy.url`, else from `default_url()`."""

from alembic import context

from critmin.registry.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    from critmin.registry.db import default_url
    context.configure(url=config.get_main_option("sqlalchemy.url") or default_url(),
                      target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from critmin.registry.db import default_url, make_engine
        url = config.get_main_option("sqlalchemy.url")
        engine = make_engine(url) if url else make_engine(default_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
