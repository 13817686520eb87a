"""One APIRouter per resource; :func:`server.app.create_app` includes them all."""
