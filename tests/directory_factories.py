"""Helpers shared by the directory tests: services, locations, settings and PDF text, made through the models."""

from __future__ import annotations

import re
import zlib
from datetime import date, datetime, time

from sqlalchemy import func, select

from csrn.directory.models import Location, Service, ServiceType
from csrn.extensions import db
from csrn.schedules.models import ScheduleRule
from csrn.settings.models import TaskForceSettings
from tests.conftest import NOW

SENTINEL = "SENTINEL7731"  # in the confidential location's name and street lines: never leaves the agency
MEMBERS_ONLY = "MEMBERSONLY4410"  # a members-only address: profiles for logged-in users, never print or export
PUBLIC = "PUBLICDOOR1200"  # the public front door: printed and exported


def type_id(code: str) -> int:
    """The id of a seeded service type."""
    found = db.session.scalar(select(ServiceType.id).where(ServiceType.code == code))
    assert found is not None, f"no seeded service type {code}"
    return found


def build_service(agency_id: int, type_code: str = "case_management", facets: dict | None = None,
                  weekly=(), closures=(), confirmed_at: datetime | None = NOW, **fields) -> Service:
    """A Service with its facets and schedule rules, added to the session (not committed)."""
    service = Service(agency_id=agency_id, service_type_id=type_id(type_code), created_at=NOW, updated_at=NOW,
                      capacity_confirmed_at=confirmed_at, **fields)
    for kind, values in (facets or {}).items():
        service.set_values(kind, values)
    service.rules = (
        [ScheduleRule(kind="weekly", weekday=day, opens=opens, closes=closes) for day, opens, closes in weekly]
        + [ScheduleRule(kind="closed", start_date=start, end_date=end) for start, end in closures]
    )
    db.session.add(service)
    return service


def make_service_factory(app):
    """A function creating one service in its own app context and committing it; returns the id."""

    def factory(agency_id: int, **kwargs) -> int:
        with app.app_context():
            service = build_service(agency_id, **kwargs)
            db.session.commit()
            return service.id

    return factory


def make_location_factory(app):
    """A function creating one location of an agency; returns the id."""

    def factory(agency_id: int, visibility: str, name: str, address_1: str, address_2: str | None = None,
                city: str = "Springfield", postal_code: str = "62701", county: str = "") -> int:
        with app.app_context():
            location = Location(agency_id=agency_id, name=name, address_1=address_1, address_2=address_2, city=city,
                                state="IL", postal_code=postal_code, county=county, visibility=visibility,
                                created_at=NOW, updated_at=NOW)
            db.session.add(location)
            db.session.commit()
            return location.id

    return factory


def set_settings(app, counties=(), timezone: str = "UTC") -> None:
    """Write the settings row (counties, zone)."""
    with app.app_context():
        row = db.session.get(TaskForceSettings, 1)
        if row is None:
            row = TaskForceSettings(id=1)
            db.session.add(row)
        row.counties = list(counties)
        row.timezone = timezone
        db.session.commit()


def count_rows(*models) -> dict:
    """Row counts of the given models (for "GET changes nothing")."""
    return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in models}


def at_local(day: date, hour: int, minute: int, zone) -> datetime:
    """An aware local time."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


# ----- PDF text extraction (fpdf2's output: Flate streams, Type0 fonts with ToUnicode maps) ---------

_OBJECT_START = re.compile(rb"(?:^|\n)(\d+) 0 obj\s*")


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Object number -> (dictionary text, decoded stream or None), streams sliced by their /Length."""
    objects, position = {}, 0
    while True:
        match = _OBJECT_START.search(data, position)
        if match is None:
            return objects
        start = match.end()
        end_obj = data.find(b"endobj", start)
        stream_at = data.find(b"stream", start)
        if stream_at == -1 or stream_at > end_obj:
            objects[int(match.group(1))] = (data[start:end_obj], None)
            position = end_obj
            continue
        head = data[start:stream_at]
        length = int(re.search(rb"/Length\s+(\d+)", head).group(1))
        body_start = stream_at + len(b"stream")
        body_start += 2 if data[body_start : body_start + 2] == b"\r\n" else 1
        content = data[body_start : body_start + length]
        if b"/FlateDecode" in head:
            content = zlib.decompress(content)
        objects[int(match.group(1))] = (head, content)
        position = data.find(b"endobj", body_start + length)


def _cmap(text: bytes) -> dict[int, str]:
    mapping = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = int(dst, 16)
            for offset, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                mapping[code] = chr(start + offset)
    return mapping


def _literal_strings(content: bytes):
    """Yield (font name, string bytes) for each `(...) Tj` in a content stream."""
    font, i, n = None, 0, len(content)
    escapes = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}
    while i < n:
        ch = content[i]
        if ch == ord("/"):
            match = re.match(rb"/(\w+)\s+[\d.]+\s+Tf", content[i:])
            if match:
                font = match.group(1).decode()
                i += match.end()
                continue
        if ch == ord("("):
            depth, out, i = 1, bytearray(), i + 1
            while i < n:
                c = content[i]
                if c == ord("\\"):
                    nxt = content[i + 1]
                    if nxt in escapes:
                        out += escapes[nxt]
                        i += 2
                    elif ord("0") <= nxt <= ord("7"):
                        digits = re.match(rb"[0-7]{1,3}", content[i + 1 : i + 4]).group(0)
                        out.append(int(digits, 8) & 0xFF)
                        i += 1 + len(digits)
                    else:
                        out.append(nxt)
                        i += 2
                    continue
                if c == ord("("):
                    depth += 1
                elif c == ord(")"):
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                out.append(c)
                i += 1
            yield font, bytes(out)
            continue
        i += 1


def pdf_text(data: bytes) -> str:
    """The text drawn in an fpdf2 PDF, one string per line."""
    assert data.startswith(b"%PDF"), "not a PDF"
    objects = _objects(data)
    font_maps: dict[str, dict[int, str]] = {}
    for body, _ in objects.values():
        for name, number in re.findall(rb"/(F\d+)\s+(\d+) 0 R", body):
            font_body = objects.get(int(number), (b"", None))[0]
            to_unicode = re.search(rb"/ToUnicode\s+(\d+) 0 R", font_body)
            if to_unicode:
                font_maps[name.decode()] = _cmap(objects[int(to_unicode.group(1))][1] or b"")
    lines = []
    for body, content in objects.values():
        if content is None or b"Tj" not in content or b"/Length1" in body:
            continue
        for font, raw in _literal_strings(content):
            mapping = font_maps.get(font or "", {})
            codes = [int.from_bytes(raw[k : k + 2], "big") for k in range(0, len(raw) - 1, 2)]
            lines.append("".join(mapping.get(code, "\ufffd") for code in codes))
    return "\n".join(lines)
