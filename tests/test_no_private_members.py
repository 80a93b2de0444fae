"""Other libraries' private members are reached only from their adapter modules (issue 22).

Every module of our packages is read (its syntax tree, not run) and fails this test when, outside
the adapters in ``lago_core/adapters/``, it

- imports a third-party library's private module or name (``from aiohttp._websocket import ...``);
- reads or writes ``x._name`` where ``x`` is a third-party module or class, or ``_name`` is not a
  private name our own code defines (``some_worker._poll_iteration()``);
- passes such a name to ``getattr``/``setattr``/``hasattr``/``delattr`` as a literal;
- spells a name-mangled private attribute (``"_RTCRtpReceiver__decoder_queue"``);
- rebinds a member of a third-party module (``aioice.ice.get_host_addresses = ...``);
- in a subclass of a third-party class, overrides or uses (``self._x``, ``super()._x``) one of
  that class's private members — read from the pinned library itself: its classes' attributes
  and the ``self._x`` its source uses.

"Our own" private names are those our code defines outside the adapters (functions, classes,
module names, ``self._x = ...``, ``__slots__``), less those a subclass of a library's class
defines that are the library's. That approximates "not our own object" from names: a library
private that happens to share a name with one of ours on an object of unknown type is missed.
The standard library's own private members are out of scope; its underscore API (a named tuple's
``_replace``) is public.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lago_core", "lago_rt", "lago_rest", "workers", "lago_cli", "lago_bench")

# Where library privates may be used: one module per library (lago_core/adapters/__init__.py).
ADAPTERS = ("lago_core/adapters/",)
ALLOWED = ADAPTERS

# Underscore names that are the standard library's public API (named tuples).
STDLIB_UNDERSCORE_API = frozenset({"_replace", "_asdict", "_fields", "_field_defaults", "_make"})
PROBES = frozenset({"getattr", "setattr", "hasattr", "delattr"})
MANGLED = re.compile(r"_[A-Z][A-Za-z0-9]*__[A-Za-z_][A-Za-z0-9_]*")
SELF_PRIVATE = re.compile(r"\bself\.(_[A-Za-z][A-Za-z0-9_]*)")


def is_private(name: str) -> bool:
    """``_x`` or ``__x``; not a dunder (``__x__``) nor a sunder (``_x_``, enum's API)."""
    return len(name) > 1 and name.startswith("_") and not name.endswith("_")


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def is_allowed(path: str) -> bool:
    return path.startswith(ALLOWED)


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


# --- what a name is bound to ---------------------------------------------------------------------


class Origin:
    """Where a module's imported names come from."""

    OURS, STDLIB, THIRD_PARTY = "ours", "stdlib", "third-party"

    @staticmethod
    def of(module: str, level: int = 0) -> str:
        top = module.split(".", 1)[0]
        if level or top in PACKAGES:
            return Origin.OURS
        if top in sys.stdlib_module_names or top == "__future__":
            return Origin.STDLIB
        return Origin.THIRD_PARTY


@dataclass(frozen=True)
class Binding:
    module: str  # the module imported, or the module a name was imported from
    name: str | None  # the name imported from it, if any
    origin: str


def bindings(tree: ast.Module) -> dict[str, Binding]:
    """Every name an import binds, anywhere in the module (imports inside functions too)."""
    bound: dict[str, Binding] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = Binding(alias.name, None, Origin.of(alias.name))
                else:
                    top = alias.name.split(".", 1)[0]
                    bound[top] = Binding(top, None, Origin.of(top))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            for alias in node.names:
                origin = Origin.of(module, node.level)
                bound[alias.asname or alias.name] = Binding(module, alias.name, origin)
    return bound


def root_name(node: ast.expr) -> str | None:
    """The name an expression starts from: ``a`` in ``a.b(c)[d].e``."""
    while True:
        if isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def is_self(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: the object a class's own code works on."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


# --- the private members of the library classes our classes subclass ----------------------------


@functools.cache
def library_privates(klass: type) -> frozenset[str]:
    """Private names a third-party class and its third-party bases define or use on ``self``."""
    names: set[str] = set()
    for base in klass.__mro__:
        if Origin.of(base.__module__) != Origin.THIRD_PARTY:
            continue
        names.update(n for n in vars(base) if is_private(n))
        try:
            text = inspect.getsource(base)
        except (OSError, TypeError):
            continue  # compiled: its attributes above are all there is to go on
        names.update(n for n in SELF_PRIVATE.findall(text) if not n.startswith("__"))
    return frozenset(names)


def resolve(expr: ast.expr, bound: dict[str, Binding]) -> Any:
    """The object an imported name (``Worker``, ``web.AppRunner``) stands for, or None."""
    if isinstance(expr, ast.Subscript):  # Generic[T], Protocol[T]
        expr = expr.value
    path: list[str] = []
    while isinstance(expr, ast.Attribute):
        path.insert(0, expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name) or expr.id not in bound:
        return None
    binding = bound[expr.id]
    target: Any = importlib.import_module(binding.module)
    for part in ([binding.name] if binding.name else []) + path:
        found = getattr(target, part, None)
        if found is None and inspect.ismodule(target):
            # A submodule its package does not import itself (``aioice.ice``).
            try:
                found = importlib.import_module(f"{target.__name__}.{part}")
            except ImportError:
                return None
        if found is None:
            return None
        target = found
    return target


class Classes:
    """The library privates each class of one module inherits (empty: none of its bases is a
    library's). Bases defined in the same module are followed; imported ones are imported."""

    def __init__(self, tree: ast.Module, bound: dict[str, Binding]) -> None:
        self._bound = bound
        self._local = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def privates(self, node: ast.ClassDef, seen: frozenset[str] = frozenset()) -> frozenset[str]:
        names: set[str] = set()
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in self._local and base.id not in seen:
                names |= self.privates(self._local[base.id], seen | {node.name})
                continue
            klass = resolve(base, self._bound)
            if isinstance(klass, type):
                names |= library_privates(klass)
        return frozenset(names)


def class_body(node: ast.ClassDef) -> Iterator[ast.AST]:
    """The class's own code, nested functions included, nested classes not."""
    stack: list[ast.AST] = list(node.body)
    while stack:
        item = stack.pop()
        yield item
        stack.extend(c for c in ast.iter_child_nodes(item) if not isinstance(c, ast.ClassDef))


def classes(tree: ast.Module) -> Iterator[ast.ClassDef]:
    return (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef))


# --- our own private names ------------------------------------------------------------------------


def defined_private_names(tree: ast.Module) -> set[str]:
    """The private names a module defines, less a library's privates its subclasses define."""
    bound = bindings(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if is_self(node.value):
                found.add(node.attr)
        elif isinstance(node, ast.alias) and node.asname:
            found.add(node.asname)
        elif isinstance(node, ast.ImportFrom) and Origin.of(node.module or "", node.level) == (
            Origin.OURS
        ):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            found.update(
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
    library = Classes(tree, bound)
    for node in classes(tree):
        found -= library.privates(node)
    return {n for n in found if is_private(n)}


@functools.cache
def own_private_names() -> frozenset[str]:
    names: set[str] = set()
    for path in sources():
        if not is_allowed(relative(path)):
            names |= defined_private_names(ast.parse(path.read_text(), str(path)))
    return frozenset(names)


# --- the check ------------------------------------------------------------------------------------


def check_source(path: str, text: str) -> list[str]:
    """What in this module reaches into a library's private members (``path:line: what``)."""
    tree = ast.parse(text, path)
    bound = bindings(tree)
    own = own_private_names() | STDLIB_UNDERSCORE_API
    found: list[tuple[int, str]] = []

    def library_object(node: ast.expr) -> bool:
        name = root_name(node)
        return name is not None and name in bound and bound[name].origin == Origin.THIRD_PARTY

    def standard_object(node: ast.expr) -> bool:
        name = root_name(node)
        return name is not None and name in bound and bound[name].origin == Origin.STDLIB

    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if Origin.of(alias.name) == Origin.THIRD_PARTY and any(
                    is_private(part) for part in alias.name.split(".")
                ):
                    found.append((line, f"imports a library's private module {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            if Origin.of(node.module, node.level) != Origin.THIRD_PARTY:
                continue
            if any(is_private(part) for part in node.module.split(".")):
                found.append((line, f"imports from a library's private module {node.module}"))
            for alias in node.names:
                if is_private(alias.name):
                    found.append((line, f"imports {node.module}.{alias.name}"))
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            if is_self(node.value) or standard_object(node.value):
                continue
            if library_object(node.value) or node.attr not in own:
                found.append((line, f"reaches {ast.unparse(node)}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in PROBES
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
            if is_private(name) and not is_self(node.args[0]) and name not in own:
                found.append((line, f"{node.func.id}(..., {name!r})"))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and MANGLED.fullmatch(node.value)
            and not node.value.endswith("__")
        ):
            found.append((line, f"spells the mangled private {node.value!r}"))
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and library_object(target.value):
                    found.append((line, f"rebinds a library's member {ast.unparse(target)}"))

    library = Classes(tree, bound)
    for klass in classes(tree):
        privates = library.privates(klass)
        if not privates:
            continue
        for node in class_body(klass):
            line = getattr(node, "lineno", 0)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in privates:
                found.append((line, f"{klass.name} overrides its library base's {node.name}"))
            elif isinstance(node, ast.Name) and node.id in privates:
                if isinstance(node.ctx, ast.Store):
                    found.append((line, f"{klass.name} rebinds its library base's {node.id}"))
            elif isinstance(node, ast.Attribute) and node.attr in privates and is_self(node.value):
                found.append((line, f"{klass.name} uses its library base's {ast.unparse(node)}"))
    return [f"{path}:{line}: {what}" for line, what in sorted(set(found))]


# --- the tests ------------------------------------------------------------------------------------


def test_no_module_outside_the_adapters_reaches_a_library_private() -> None:
    findings = [
        finding
        for path in sources()
        if not is_allowed(relative(path))
        for finding in check_source(relative(path), path.read_text())
    ]
    assert not findings, (
        "a library's private member used outside lago_core/adapters/ (move it into the "
        "library's adapter module, with a test in tests/test_private_members.py):\n"
        + "\n".join(findings)
    )


def test_the_allow_list_names_what_exists_and_each_adapter_is_documented() -> None:
    for entry in ALLOWED:
        assert (ROOT / entry).exists(), f"{entry} is allow-listed but does not exist"
    package = (ROOT / "lago_core" / "adapters" / "__init__.py").read_text()
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    for path in (ROOT / "lago_core" / "adapters").glob("*.py"):
        if path.stem != "__init__":
            assert f"lago_core.adapters.{path.stem}" in package, path.name
            assert f"lago_core/adapters/{path.name}" in architecture, path.name


# Each snippet, put in workers/jobs.py, must be refused: (code, what the finding names).
REFUSED = {
    "a worker's private method": (
        "async def run(some_arq_worker):\n    await some_arq_worker._poll_iteration()\n",
        "some_arq_worker._poll_iteration",
    ),
    "a private module": (
        "from aiohttp._websocket import reader\n",
        "aiohttp._websocket",
    ),
    "a private name from a library": (
        "from arq.worker import _func_name\n",
        "arq.worker._func_name",
    ),
    "a private member of a library's class": (
        "from arq.worker import Worker\n\nCOUNT = Worker._jobs_started\n",
        "Worker._jobs_started",
    ),
    "a private member of a library's module": (
        "import aioice.ice\n\nSTUN = aioice.ice._some_helper\n",
        "aioice.ice._some_helper",
    ),
    "getattr of a private name": (
        "def codecs(transceiver):\n    return getattr(transceiver, '_codecs', [])\n",
        "'_codecs'",
    ),
    "a name-mangled private": (
        "QUEUE = '_RTCRtpReceiver__decoder_queue'\n",
        "_RTCRtpReceiver__decoder_queue",
    ),
    "a library's module rebound": (
        "import aioice.ice\n\naioice.ice.get_host_addresses = list\n",
        "aioice.ice.get_host_addresses",
    ),
    "an override of a library base's private": (
        "from arq.worker import Worker\n\n"
        "class W(Worker):\n    async def _poll_iteration(self):\n        pass\n",
        "overrides its library base's _poll_iteration",
    ),
    "a library base's private on self": (
        "from arq import worker\n\n"
        "class W(worker.Worker):\n    def ready(self):\n        return self._pool is not None\n",
        "self._pool",
    ),
    "a library base's private through super()": (
        "from aiohttp import web\n\n"
        "class R(web.AppRunner):\n    async def make(self):\n"
        "        return await super()._make_server()\n",
        "super()._make_server",
    ),
    "a library base's private, the base named through its package": (
        "import aiortc\n\n"
        "class S(aiortc.rtcrtpsender.RTCRtpSender):\n"
        "    def _send_keyframe(self):\n        pass\n",
        "overrides its library base's _send_keyframe",
    ),
    "a library base's private through our own base class": (
        "from lago_core.adapters.arq import ArqWorker\n\n"
        "class W(ArqWorker):\n    def count(self):\n        return self._jobs_started()\n",
        "self._jobs_started",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_the_guard_refuses(case: str) -> None:
    code, named = REFUSED[case]
    findings = check_source("workers/jobs.py", code)
    assert findings, f"not refused: {code}"
    assert any(named in f for f in findings), findings
    assert all(f.startswith("workers/jobs.py:") for f in findings)


def test_the_guard_lets_our_own_privates_and_the_standard_library_be() -> None:
    code = (
        "import os\n"
        "from urllib.parse import urlsplit\n"
        "from arq.worker import Worker\n\n"
        "class Probe:\n"
        "    def __init__(self):\n"
        "        self._connected = None\n\n"
        "    @classmethod\n"
        "    def open(cls):\n"
        "        probe = cls()\n"
        "        return probe._connected\n\n"
        "class W(Worker):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self._outage_since = None\n\n"
        "def f(dsn):\n"
        "    os._exit(urlsplit(dsn)._replace(path='/').port)\n"
    )
    assert check_source("workers/jobs.py", code) == []


def test_only_the_adapters_are_exempt() -> None:
    assert is_allowed("lago_core/adapters/arq.py")
    assert not is_allowed("lago_rt/transport/server.py")
    assert not is_allowed("lago_rt/gateway/channels.py")
    assert not is_allowed("workers/jobs.py")
    assert not is_allowed("lago_rt/media/aiortc_backend.py")
    assert not is_allowed("lago_core/redis.py")
