"""The WSGI entry point: `gunicorn app:app` or `flask --app app ...`."""

from csrn import create_app

app = create_app()
