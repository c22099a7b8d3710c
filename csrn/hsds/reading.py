"""Reading an HSDS 3.0 package into tables of rows, refusing what is unsafe before anything is parsed.

A package is a folder or a .zip of CSV files with `datapackage.json`, or a JSON file of organizations or of services
(one object, a list, or a page with `contents`); either way the result is the same: rows by table name, each row
knowing where it came from (file and row, or file and JSON path) for the messages. Refused, naming the file (and
the row and field where there is one): a file over the size limit, a .zip member with `../` or an absolute path, a
link, an encrypted member, a decompression bomb (declared or actual size over the limit), a NUL byte or invalid
UTF-8 in a CSV, JSON that does not parse.
"""

from __future__ import annotations

import csv
import io
import json
import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

from csrn.hsds.json_package import read_json
from csrn.hsds.rows import MAX_ROWS, PackageRefused, Row, Source
from csrn.hsds.spec_fields import tables_by_path

__all__ = ["PackageRefused", "Row", "Source", "read_bytes", "read_path"]

MAX_MEMBERS = 200
MAX_JSON_CONTAINERS = 4 * MAX_ROWS
MAX_CENTRAL_DIRECTORY = 1024 * 1024  # bytes: 200 members with names of up to a few kB each
BAD_TEXT = re.compile("[\x00\udc80-\udcff]")  # a NUL, or a byte that was not UTF-8 (escaped by the decoder)


def read_path(path: Path, max_bytes: int) -> Source:
    """Read a folder, a .zip or a .json file from disk."""
    if path.is_dir():
        return _read_folder(path, max_bytes)
    if not path.is_file():
        raise PackageRefused([f"{path.name}: no such file or folder"])
    size = path.stat().st_size
    if size > max_bytes:
        raise PackageRefused([f"{path.name}: {size} bytes, over the import limit of {max_bytes} bytes"])
    return read_bytes(path.name, path.read_bytes(), max_bytes)


def read_bytes(name: str, data: bytes, max_bytes: int) -> Source:
    """Read an uploaded .zip or .json (the name says which; a zip is also known by its first bytes)."""
    if len(data) > max_bytes:
        raise PackageRefused([f"{name}: {len(data)} bytes, over the import limit of {max_bytes} bytes"])
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
        return _read_zip(name, data, max_bytes)
    if name.lower().endswith(".json") or data.lstrip()[:1] in (b"{", b"["):
        return read_json(name, _decode_json(name, data))
    raise PackageRefused([f"{name}: not a .zip of CSV files nor an HSDS .json file"])


def _decode_json(name: str, data: bytes):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PackageRefused([f"{name} line {line}: invalid UTF-8"]) from None
    if "\x00" in text:
        raise PackageRefused([f"{name} line {text[: text.index(chr(0))].count(chr(10)) + 1}: a NUL byte"])
    # Every object and list costs memory as it is parsed (50 MB of "{}," is 17 million dicts, gigabytes):
    # brackets are an upper bound of how many there are (a bracket inside a string counts too).
    if data.count(b"{") + data.count(b"[") > MAX_JSON_CONTAINERS:
        raise PackageRefused([f"{name}: more than {MAX_JSON_CONTAINERS} objects and lists, more than a package "
                              "may hold"])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackageRefused([f"{name} line {exc.lineno}: not valid JSON ({exc.msg})"]) from None
    except RecursionError:
        raise PackageRefused([f"{name}: nested too deeply"]) from None
    except ValueError:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise PackageRefused([f"{name}: a number too long to read"]) from None


# ----- CSV packages ------------------------------------------------------------------------------------------------

def _read_folder(folder: Path, max_bytes: int) -> Source:
    files = {}
    total = 0
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.is_symlink():
            continue
        if not (path.name == "datapackage.json" or path.suffix.lower() == ".csv"):
            continue
        total += path.stat().st_size
        if total > max_bytes:
            raise PackageRefused([f"{path.name}: the package is over the import limit of {max_bytes} bytes"])
        files[path.name] = path.read_bytes()
    return _read_csv_files(folder.name, files)


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "a path that leaves the package (../)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a link"
    if info.flag_bits & 0x1:
        return "encrypted"
    return None


def _central_directory_size(data: bytes) -> int:
    """The size the .zip's end record gives its central directory (found as zipfile finds it), or 0 without one."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if end == -1 or len(data) < end + 22:
        return 0
    return int.from_bytes(data[end + 12:end + 16], "little")


def _read_zip(name: str, data: bytes, max_bytes: int) -> Source:
    # zipfile reads the whole central directory before anyone can count its members: a .zip of hundreds of thousands
    # of empty members (a few tens of MB) would cost seconds and hundreds of MB first. Its size is in the end record.
    if _central_directory_size(data) > MAX_CENTRAL_DIRECTORY:
        raise PackageRefused([f"{name}: more than the {MAX_MEMBERS} files a package may hold"])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise PackageRefused([f"{name}: not a readable .zip ({exc})"]) from None
    if len(members) > MAX_MEMBERS:
        raise PackageRefused([f"{name}: {len(members)} files, more than the {MAX_MEMBERS} a package may hold"])
    problems = [f"{name}: member {info.filename!r} is {why}" for info in members if (why := _unsafe_member(info))]
    if problems:
        raise PackageRefused(problems)
    declared = sum(info.file_size for info in members)
    if declared > max_bytes:
        raise PackageRefused([f"{name}: unpacks to {declared} bytes, over the import limit of {max_bytes} bytes"])
    wanted = [info for info in members if not info.is_dir()
              and (PurePosixPath(info.filename).name == "datapackage.json"
                   or info.filename.lower().endswith(".csv"))
              and not PurePosixPath(info.filename).name.startswith("._")]
    # The package's folder: where datapackage.json is (the root, or one folder the .zip was made from).
    roots = sorted({str(PurePosixPath(i.filename).parent) for i in wanted
                    if PurePosixPath(i.filename).name == "datapackage.json"}, key=len)
    root = roots[0] if roots else "."
    files = {}
    total = 0
    for info in wanted:
        path = PurePosixPath(info.filename)
        if str(path.parent) != root:
            continue
        content = bytearray()
        try:
            with archive.open(info) as handle:
                while chunk := handle.read(65536):
                    content += chunk
                    total += len(chunk)
                    # The declared sizes can lie: count what actually comes out.
                    if total > max_bytes:
                        raise PackageRefused([f"{name}: {info.filename} unpacks past the import limit of "
                                              f"{max_bytes} bytes"])
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise PackageRefused([f"{name}: {info.filename} cannot be read ({exc})"]) from None
        files[path.name] = bytes(content)
    return _read_csv_files(name, files)


def _read_csv_files(package: str, files: dict[str, bytes]) -> Source:
    source = Source(name=package)
    official = tables_by_path()
    paths = dict(official)
    if "datapackage.json" in files:
        try:
            described = json.loads(files["datapackage.json"].decode("utf-8-sig"))
            resources = described["resources"]
            for resource in resources:
                if resource.get("name") in set(official.values()):
                    paths = {key: value for key, value in paths.items() if value != resource["name"]}
                    paths[PurePosixPath(str(resource.get("path", ""))).name] = resource["name"]
                else:
                    source.warnings.append(f"datapackage.json: table {resource.get('name')!r} is not an HSDS "
                                           "table: not read")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise PackageRefused(["datapackage.json: not a readable data package description"]) from None
    else:
        source.warnings.append("no datapackage.json: the tables were read by their official file names")
    found = False
    for file_name, data in sorted(files.items()):
        if file_name == "datapackage.json":
            continue
        table = paths.get(file_name)
        if table is None:
            source.warnings.append(f"{file_name}: not a table of the package: not read")
            continue
        found = True
        source.present_tables.add(table)
        for row in _csv_rows(file_name, data):
            source.add(table, row)
        source.tables.setdefault(table, [])
    if not found:
        raise PackageRefused([f"{package}: no HSDS table (organizations.csv, services.csv, ...) in the package"])
    return source


def _csv_rows(file_name: str, data: bytes) -> list[Row]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # Decoded with surrogate escapes, so an invalid byte is found in its row and field rather than as an offset.
    text = data.decode("utf-8", errors="surrogateescape")
    suspect = BAD_TEXT.search(text) is not None  # cells are looked at one by one only when the file has a bad byte
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    try:
        for record in reader:  # counted as they come: a file of millions of tiny rows is refused, not held
            records.append(record)
            if len(records) > MAX_ROWS:
                raise PackageRefused([f"{file_name}: more than {MAX_ROWS} rows, more than a package may hold"])
    except csv.Error as exc:  # a field over csv.field_size_limit() (128 kB), a quote that never ends, ...
        raise PackageRefused([f"{file_name} line {reader.line_num}: not a readable CSV file ({exc})"]) from None
    if not records:
        return []
    header = [name.strip() for name in records[0]]
    problems = []
    for column, name in enumerate(header, start=1):
        if _bad_text(name):
            problems.append(f"{file_name} row 1, column {column}: {_bad_text(name)} in the header")
    duplicates = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicates:
        problems.append(f"{file_name} row 1: column {', '.join(duplicates)} given twice")
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        if len(record) > len(header):
            problems.append(f"{file_name} row {number}: {len(record)} cells for {len(header)} columns")
            continue
        values = {}
        for name, cell in zip(header, record, strict=False):
            why = _bad_text(cell) if suspect else None
            if why:
                problems.append(f"{file_name} row {number}, field {name}: {why}")
            values[name] = cell
        rows.append(Row(values, f"{file_name} row {number}", present=frozenset(header)))
        if len(problems) > 20:
            break
    if problems:
        raise PackageRefused(problems[:20])
    return rows


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "a NUL byte"
    if BAD_TEXT.search(value):
        return "invalid UTF-8"
    return None
