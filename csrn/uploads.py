"""File uploads (SECURITY V5): checked by content, size-limited, stored under a random name, served as attachments."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, send_file
from werkzeug.datastructures import FileStorage

from csrn.security import one_line

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
STORED_NAME = re.compile(r"^[0-9a-f]{32}$")


class UploadRefused(ValueError):
    """The file is not an accepted type or is too large."""


@dataclass
class StoredFile:
    """Where an upload went and what it is."""

    name: str
    original_name: str
    mime: str


def upload_folder() -> Path:
    """The folder outside static/ where uploads live."""
    folder = Path(current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sniff(head: bytes) -> tuple[str, str] | None:
    """The (mime, extension) the file's first bytes show, or None."""
    for magic, mime, extension in SIGNATURES:
        if head.startswith(magic):
            return mime, extension
    return None


def _clean_name(name: str, extension: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/"))
    base = re.sub(r"[^\w .()-]", "_", base).strip(" .")[:150] or "document"
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem}{extension}"


def save_upload(file: FileStorage) -> StoredFile:
    """Check the file by its content and size, then store it under a random name."""
    data = file.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise UploadRefused("The file is empty.")
    kind = sniff(data[:16])
    if kind is None:
        raise UploadRefused("Upload a PDF, PNG or JPEG file.")
    mime, extension = kind
    name = secrets.token_hex(16)
    (upload_folder() / name).write_bytes(data)
    return StoredFile(name=name, original_name=_clean_name(file.filename or "", extension), mime=mime)


def send_stored(name: str, original_name: str, mime: str):
    """Send a stored upload as an attachment (never rendered inline)."""
    if not name or not STORED_NAME.match(name):
        raise FileNotFoundError(name)
    path = upload_folder() / name
    if not path.is_file():
        raise FileNotFoundError(name)
    # The name as stored came from an upload (cleaned then), or from anywhere else data comes from (an import,
    # a restored backup): one line, whatever it holds, or the download itself would fail.
    shown = one_line(original_name or "") or "document"
    response = send_file(path, mimetype=mime or "application/octet-stream", as_attachment=True,
                         download_name=shown, max_age=0)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
