"""An OpenAPI 3.1 document of every route of an app, built from its URL map and access rules."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, TypeVar

from flask import Flask
from werkzeug.routing import FloatConverter, IntegerConverter
from werkzeug.routing import Rule as UrlRule

from provenance.access.principal import ANONYMOUS
from provenance.access.rules import PUBLIC, Facts, Rule
from provenance.access.web import RULES
from provenance.web.context import SERVICE
from provenance.web.openapi_schemas import components
from provenance.web.problems import PROBLEM_TYPES

STATIC_RULE = "anyone (static files)"
#: Methods Flask adds to every route by itself.
IMPLICIT_METHODS = ("HEAD", "OPTIONS")
_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Detail:
    """What a view says about itself beyond its route: its body, answers and query."""

    request_body: Mapping[str, Any] | None = None
    responses: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    security: Sequence[str] | None = None


def openapi(
    *,
    request_body: Mapping[str, Any] | None = None,
    responses: Mapping[int, Any] | Mapping[str, Any] | None = None,
    query: Mapping[str, Mapping[str, Any]] | None = None,
    headers: Mapping[str, Mapping[str, Any]] | None = None,
    security: Sequence[str] | None = None,
) -> Callable[[F], F]:
    """Describes a view for the document: a Request Body Object, Response Objects by status,
    query parameters and request headers by name (each a Parameter Object's fields), and the
    security schemes it takes when they differ from the usual (signature; session to read)."""
    detail = Detail(
        request_body,
        {str(k): v for k, v in (responses or {}).items()},
        query or {},
        headers or {},
        security,
    )

    def mark(view: F) -> F:
        view.openapi = detail  # type: ignore[attr-defined]
        return view

    return mark


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in `app.url_map` (but Flask's HEAD and OPTIONS)."""
    rules: Mapping[str, Rule] = app.extensions.get(RULES, {})
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for route in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[route.endpoint]
        rule = rules.get(route.endpoint)
        item = paths.setdefault(openapi_path(route), {})
        for method in methods_of(route):
            op_id = _unique(
                route.endpoint if method == "GET" else f"{route.endpoint}.{method}", used
            )
            item[method.lower()] = _operation(app, route, view, rule, method, op_id)
    problem_types = [str(t) for t in app.extensions.get(PROBLEM_TYPES, ())]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "provenance",
            "version": _version(),
            "description": (
                "A shared, append-only transparency log (RFC 6962). Each operation says who may "
                "use it (x-access); errors are RFC 9457 problems (GET /problems lists the types)."
            ),
        },
        "paths": paths,
        "components": components(problem_types),
    }


def openapi_path(route: UrlRule) -> str:
    """`/a/<int:b>/<path:c>` as `/a/{b}/{c}`."""
    return _ARGUMENT.sub(lambda m: "{" + m.group(1) + "}", route.rule)


def methods_of(route: UrlRule) -> list[str]:
    return sorted(m for m in route.methods or () if m not in IMPLICIT_METHODS)


def _operation(
    app: Flask, route: UrlRule, view: Callable[..., Any], rule: Rule | None, method: str, op_id: str
) -> dict[str, Any]:
    detail: Detail = getattr(view, "openapi", None) or Detail()
    summary, rest = _docstring(view)
    access = rule.name if rule is not None else STATIC_RULE
    anyone = rule is None or _admits_anonymous(app, rule)
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary or route.endpoint,
        "description": f"Who may: {access}." + (f"\n\n{rest}" if rest else ""),
        "x-access": access,
    }
    parameters = _path_parameters(route) + _query_parameters(view, detail)
    parameters += [{"name": n, "in": "header", **spec} for n, spec in detail.headers.items()]
    if parameters:
        op["parameters"] = parameters
    if detail.request_body is not None:
        op["requestBody"] = dict(detail.request_body)
    op["responses"] = _responses(detail, anyone, detail.request_body is not None)
    op["security"] = _security(rule, anyone, method, detail.security)
    return op


def _security(
    rule: Rule | None, anyone: bool, method: str, declared: Sequence[str] | None
) -> list[dict[str, list[str]]]:
    if rule is None or rule is PUBLIC:
        return []
    # A session cookie only reads: a request that writes is signed (see provenance.access.web).
    names = declared or (["httpSignature", "session"] if method == "GET" else ["httpSignature"])
    schemes: list[dict[str, list[str]]] = [{name: []} for name in names]
    # `{}` first: an anonymous request is admitted too, an authenticated one may see more.
    return [{}, *schemes] if anyone else schemes


def _admits_anonymous(app: Flask, rule: Rule) -> bool:
    """Whether the rule admits an anonymous request with no arguments, without a database."""

    def no_connection() -> Any:
        raise LookupError("the rule needs the database")

    try:
        return rule.allows(ANONYMOUS, Facts({}, app.extensions[SERVICE].registry, no_connection))
    except Exception:  # any rule that looks further than the principal needs a real request
        return False


def _responses(detail: Detail, anyone: bool, has_body: bool) -> dict[str, Any]:
    problem = {"$ref": "#/components/responses/Problem"}
    found = dict(detail.responses) or {"200": {"description": "OK"}}
    errors = ["400", "404"]
    if not anyone:
        errors += ["401", "403"]
    if has_body:
        errors += ["413", "415"]
    for status in errors:
        found.setdefault(status, problem)
    found.setdefault("429", {"$ref": "#/components/responses/TooManyRequests"})
    found.setdefault("default", problem)
    return found


def _path_parameters(route: UrlRule) -> list[dict[str, Any]]:
    converters = route._converters  # werkzeug keeps no public map of argument to converter
    found = []
    for name in _ARGUMENT.findall(route.rule):
        converter = converters.get(name)
        schema: dict[str, Any] = {"type": "string"}
        if isinstance(converter, IntegerConverter):
            schema = {"type": "integer", "minimum": 0 if not converter.signed else None}
            schema = {k: v for k, v in schema.items() if v is not None}
        elif isinstance(converter, FloatConverter):
            schema = {"type": "number"}
        found.append({"name": name, "in": "path", "required": True, "schema": schema})
    return found


def _query_parameters(view: Callable[..., Any], detail: Detail) -> list[dict[str, Any]]:
    declared = {n: dict(spec) for n, spec in detail.query.items()}
    for name in read_query_names(view):
        declared.setdefault(name, {"schema": {"type": "string"}})
    return [
        {"name": n, "in": "query", "required": False, **spec}
        for n, spec in sorted(declared.items())
    ]


def read_query_names(view: Callable[..., Any]) -> list[str]:
    """The query parameters a view reads by name: `request.args.get("x")` or `args.get("x")`."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(view))))
    except (OSError, TypeError, SyntaxError):
        return []  # no source (a built-in or a generated view): nothing to find
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and _is_args(node.func.value)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return sorted(names)


def _is_args(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "args") or (
        isinstance(node, ast.Attribute) and node.attr == "args"
    )


def _docstring(view: Callable[..., Any]) -> tuple[str, str]:
    """The docstring's first sentence, and the rest of it."""
    words = " ".join((inspect.getdoc(view) or "").split())
    first, stop, rest = words.partition(". ")
    return (first + "." if stop else first), rest


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}.{n}"
    used.add(candidate)
    return candidate


def _version() -> str:
    try:
        return metadata.version("provenance")
    except metadata.PackageNotFoundError:
        return "0"


def operations(doc: Mapping[str, Any]) -> Sequence[tuple[str, str, Mapping[str, Any]]]:
    """(METHOD, path, operation) for every operation of a document, by path then method."""
    return [
        (method.upper(), path, op)
        for path, item in sorted(doc["paths"].items())
        for method, op in sorted(item.items())
    ]
