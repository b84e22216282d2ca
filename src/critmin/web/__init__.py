"""The analyst web app: FastAPI pages (Jinja2 templates, Plotly charts served locally) for a
commodity, a market scenario, producer credit and export oversight, each with a JSON twin."""

from critmin.web.app import create_app, create_router

__all__ = ["create_app", "create_router"]
