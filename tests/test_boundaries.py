"""Module boundaries (DESIGN §3, docs/new-module.md): what import-linter cannot see, and import-linter itself."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "csrn"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def owner(module: str) -> str:
    """The module a dotted name belongs to (`csrn.agencies.views` -> `agencies`; a kernel file: itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def dotted(path: Path) -> str:
    """The dotted module name of a source file."""
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def private_names_across_modules(path: Path, source: str | None = None) -> list[str]:
    """`_private` names this file takes from another module, by `from ... import _x` or `alias._x`."""
    here = owner(dotted(path))
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    aliases: dict[str, str] = {}  # local name -> the csrn module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("csrn"):
            for name in node.names:
                full = f"{node.module}.{name.name}"
                if owner(node.module) != here and name.name.startswith("_"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {full}")
                aliases[name.asname or name.name] = full
        elif isinstance(node, ast.Import):
            for name in node.names:
                if name.name.startswith("csrn."):
                    aliases[name.asname or name.name] = name.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in aliases
                and owner(aliases[node.value.id]) != here):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return found


def test_no_private_name_crosses_a_module_boundary():
    """What another module needs is a public function with a docstring, never a `_private` name."""
    problems = [problem for path in SOURCES for problem in private_names_across_modules(path)]
    assert problems == []


def test_the_private_name_check_sees_both_forms():
    """The check above finds `from x import _y` and `x._y` (so it cannot pass by looking at nothing). The sample is
    never written into the package: another test runs import-linter on it at the same time."""
    sample = PACKAGE / "volunteers" / "_boundary_sample.py"
    source = ("from csrn.referrals.operations import _chairs\nfrom csrn.auth import operations as a\n"
              "a._send_invitation()\nfrom csrn.volunteers.operations import _event\n")
    assert private_names_across_modules(sample, source) == [
        "csrn/volunteers/_boundary_sample.py:1 imports csrn.referrals.operations._chairs",
        "csrn/volunteers/_boundary_sample.py:3 uses csrn.auth.operations._send_invitation",
    ]


def test_no_import_hides_inside_a_function_without_a_reason():
    """An import inside a function is allowed only with a comment saying why (start-up time, an optional
    dependency) — never to dodge a circle; `csrn/__init__.py` builds the app and imports the modules then."""
    problems = []
    for path in SOURCES:
        if path == PACKAGE / "__init__.py":
            continue
        lines = path.read_text().splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom) and "#" not in lines[node.lineno - 1]:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert problems == []


def test_a_module_package_imports_only_its_own_routes():
    """Each module's `__init__` defines its blueprint and imports its own route files, nothing of another module
    (kernel files aside: the health check is all in its `__init__`)."""
    kernel = {path.stem for path in PACKAGE.glob("*.py")}
    problems = []
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        module = init.parent.name
        for node in ast.walk(ast.parse(init.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("csrn"):
                if owner(node.module) not in (module, *kernel):
                    problems.append(f"{init.relative_to(ROOT)} imports {node.module}")
    assert problems == []


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """Run import-linter on a source tree, as `make lint` does."""
    executable = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(executable)], cwd=tree, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory):
    """A copy of the package and the contracts, to break on purpose."""
    copy = tmp_path_factory.mktemp("boundaries")
    shutil.copytree(PACKAGE, copy / "csrn", ignore=shutil.ignore_patterns("__pycache__", "fonts"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_contracts_hold():
    """`lint-imports` keeps every contract on the real code."""
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("importer, statement", [
    ("agencies/operations.py", "from csrn.volunteers import operations as upward"),  # a layer below reaching up
    ("auth/operations.py", "from csrn.agencies.models import Agency"),
    ("referrals/operations.py", "from csrn.intake import operations as upward"),
    ("volunteers/operations.py", "from csrn.pathways import operations as sideways"),  # independent siblings
    ("intake/operations.py", "from csrn.referrals import views"),  # another module's views
])
def test_a_deliberate_wrong_import_breaks_the_lint(source_copy, importer, statement):
    """An upward, sideways or views import added to a copy makes `lint-imports` (so `make lint`) fail."""
    target = source_copy / "csrn" / importer
    original = target.read_text()
    target.write_text(original + f"\n{statement}  # noqa\n")
    try:
        result = lint_imports(source_copy)
    finally:
        target.write_text(original)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout or "broken" in result.stdout
