"""The load harness's yardstick (bench/load.py): a bare Flask page that renders 12 rows from the same database as
CSRN — TechEmpower's "fortunes" in miniature. Served by gunicorn beside the app, so every CSRN page's throughput
is read as a share of this one's, measured in the same run on the same machine."""

from __future__ import annotations

import os

from flask import Flask, render_template_string
from sqlalchemy import create_engine, text

from csrn.config import normalise_database_url

engine = create_engine(normalise_database_url(os.environ["DATABASE_URL"]))
app = Flask(__name__)
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fortunes</title></head><body>
<table><tr><th>id</th><th>name</th></tr>{% for id, name in rows %}<tr><td>{{ id }}</td><td>{{ name }}</td></tr>
{% endfor %}</table></body></html>"""


@app.get("/")
def fortunes():
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, name FROM agency ORDER BY id LIMIT 12")).all()
    return render_template_string(PAGE, rows=rows)
