"""An HSDS JSON file (the compiled shapes of the API: an organization or a service with everything nested, one
object, a list, or a page with `contents`) flattened into the tables of the CSV package, each nested object
given the id of the object it sits in (a phone inside a service gets its `service_id`). The same object may be
nested in several places (a location under its organization and under a service): its copies are merged, and
copies that disagree are refused."""

from __future__ import annotations

from csrn.hsds.rows import PackageRefused, Row, Source

# parent table -> nested key -> (child table, how): "child" gives the child the parent's id in `field`; "parent"
# gives the parent the child's id in `field`.
NESTED: dict[str, dict[str, tuple[str, str, str]]] = {
    "organization": {
        "funding": ("funding", "child", "organization_id"), "contacts": ("contact", "child", "organization_id"),
        "phones": ("phone", "child", "organization_id"), "locations": ("location", "child", "organization_id"),
        "programs": ("program", "child", "organization_id"),
        "organization_identifiers": ("organization_identifier", "child", "organization_id"),
        "services": ("service", "child", "organization_id"), "attributes": ("attribute", "child", "link_id"),
        "metadata": ("metadata", "child", "resource_id"),
    },
    "service": {
        "organization": ("organization", "parent", "organization_id"), "program": ("program", "parent", "program_id"),
        "phones": ("phone", "child", "service_id"), "schedules": ("schedule", "child", "service_id"),
        "service_areas": ("service_area", "child", "service_id"),
        "service_at_locations": ("service_at_location", "child", "service_id"),
        "languages": ("language", "child", "service_id"), "funding": ("funding", "child", "service_id"),
        "cost_options": ("cost_option", "child", "service_id"),
        "required_documents": ("required_document", "child", "service_id"),
        "contacts": ("contact", "child", "service_id"), "attributes": ("attribute", "child", "link_id"),
        "metadata": ("metadata", "child", "resource_id"),
    },
    "service_at_location": {
        "location": ("location", "parent", "location_id"), "service": ("service", "parent", "service_id"),
        "contacts": ("contact", "child", "service_at_location_id"),
        "phones": ("phone", "child", "service_at_location_id"),
        "schedules": ("schedule", "child", "service_at_location_id"),
        "attributes": ("attribute", "child", "link_id"), "metadata": ("metadata", "child", "resource_id"),
    },
    "location": {
        "languages": ("language", "child", "location_id"), "addresses": ("address", "child", "location_id"),
        "contacts": ("contact", "child", "location_id"), "accessibility": ("accessibility", "child", "location_id"),
        "phones": ("phone", "child", "location_id"), "schedules": ("schedule", "child", "location_id"),
        "attributes": ("attribute", "child", "link_id"), "metadata": ("metadata", "child", "resource_id"),
    },
    "phone": {"languages": ("language", "child", "phone_id"), "attributes": ("attribute", "child", "link_id")},
    "contact": {"phones": ("phone", "child", "contact_id"), "attributes": ("attribute", "child", "link_id")},
    "attribute": {"taxonomy_term": ("taxonomy_term", "parent", "taxonomy_term_id")},
    "taxonomy_term": {"taxonomy_detail": ("taxonomy", "parent", "taxonomy_id")},
}
MAX_DEPTH = 12


class _Flattener:
    def __init__(self, name: str):
        self.source = Source(name=name, kind="json")
        self.by_id: dict[tuple[str, str], Row] = {}
        self.problems: list[str] = []

    def visit(self, table: str, obj, path: str, defaults: dict, depth: int = 0) -> str | None:
        """Add the object's row (and its nested objects' rows); return its id."""
        if depth > MAX_DEPTH:
            self.problems.append(f"{self.source.name} {path}: nested too deeply")
            return None
        if not isinstance(obj, dict):
            self.problems.append(f"{self.source.name} {path}: an object was expected, not {type(obj).__name__}")
            return None
        nested = NESTED.get(table, {})
        values = {key: value for key, value in obj.items() if key not in nested}
        for key, (child, how, field) in nested.items():
            if how == "parent" and obj.get(key) is not None:
                child_defaults = {}
                if child in ("program", "location") and values.get("organization_id"):
                    child_defaults["organization_id"] = values["organization_id"]
                child_id = self.visit(child, obj[key], f"{path}.{key}", child_defaults, depth + 1)
                if child_id is not None and values.get(field) in (None, ""):
                    values[field] = child_id
        for field, value in defaults.items():
            if values.get(field) in (None, ""):
                values[field] = value
        if table == "program" and not values.get("organization_id") and defaults.get("organization_id"):
            values["organization_id"] = defaults["organization_id"]
        self._add(table, values, path, frozenset(key for key in obj if key in nested))
        own_id = values.get("id") if isinstance(values.get("id"), str) else None
        organization = own_id if table == "organization" else values.get("organization_id")
        for key, (child, how, field) in nested.items():
            if how != "child" or obj.get(key) is None:
                continue
            items = obj[key]
            if not isinstance(items, list):
                self.problems.append(f"{self.source.name} {path}.{key}: a list was expected")
                continue
            for index, item in enumerate(items):
                child_defaults = {field: own_id} if own_id else {}
                if child == "attribute":
                    child_defaults["link_entity"] = table
                if child == "metadata":
                    child_defaults["resource_type"] = table
                if child in ("location", "program") and organization:
                    child_defaults.setdefault("organization_id", organization)
                if child == "service_at_location" and organization:
                    child_defaults["_organization_id"] = organization
                self.visit(child, item, f"{path}.{key}[{index}]", child_defaults, depth + 1)
        return own_id

    def _add(self, table: str, values: dict, path: str, nested: frozenset = frozenset()) -> None:
        organization = values.pop("_organization_id", None)
        row_id = values.get("id")
        key = (table, row_id) if isinstance(row_id, str) and row_id else None
        if key is None or key not in self.by_id:
            row = Row(values, f"{self.source.name} {path}", csv=False, present=frozenset(values) | nested)
            self.source.add(table, row)
            if key is not None:
                self.by_id[key] = row
        else:
            row = self.by_id[key]
            row.present = row.present | frozenset(values) | nested
            for field, value in values.items():
                have = row.values.get(field)
                if have in (None, "") or have == value:
                    row.values[field] = value if value not in (None, "") else have
                elif value not in (None, ""):
                    self.problems.append(f"{self.source.name} {path}, field {field}: {table} {row_id} is given "
                                         f"twice with different values (first at {row.where})")
        if table == "service_at_location" and organization:
            # A location nested in a service: the service's organization holds it, unless the data says another.
            location = self.by_id.get(("location", values.get("location_id")))
            if location is not None and not location.values.get("organization_id"):
                location.values["organization_id"] = organization


def _items(data) -> tuple[str, list, str]:
    """The objects of the file, their table, and the path prefix."""
    if isinstance(data, dict) and isinstance(data.get("contents"), list):
        items, prefix = data["contents"], "contents"
    elif isinstance(data, list):
        items, prefix = data, ""
    elif isinstance(data, dict) and isinstance(data.get("organizations"), list):
        return "organization", data["organizations"], "organizations"
    elif isinstance(data, dict) and isinstance(data.get("services"), list) and "id" not in data:
        return "service", data["services"], "services"
    else:
        items, prefix = [data], ""
    sample = next((item for item in items if isinstance(item, dict)), {})
    if any(key in sample for key in ("status", "organization", "organization_id", "service_at_locations")):
        table = "service"
    elif "service" in sample and "location" in sample:
        table = "service_at_location"
    else:
        table = "organization"
    return table, items, prefix


def read_json(name: str, data) -> Source:
    """Flatten a JSON file of organizations or services into tables."""
    flattener = _Flattener(name)
    table, items, prefix = _items(data)
    if not items:
        raise PackageRefused([f"{name}: no organization or service in the file"])
    for index, item in enumerate(items):
        path = f"{prefix}[{index}]" if prefix or len(items) > 1 or isinstance(data, list) else table
        flattener.visit(table, item, path, {})
    if flattener.problems:
        raise PackageRefused(flattener.problems[:20])
    for table_name in ("organization", "service", "location", "service_at_location"):
        flattener.source.tables.setdefault(table_name, [])
    return flattener.source
