from sqlalchemy import func, select
from csrn.extensions import db
from tests.test_security_sweep import world  # noqa: F401


def test_counts(app, world):
    with app.app_context():
        for m in sorted(db.Model.registry.mappers, key=lambda m: m.local_table.name):
            t = m.local_table
            print(t.name, db.session.scalar(select(func.count()).select_from(t)))
