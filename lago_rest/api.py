"""Declarative endpoints: one definition drives routing, validation and the OpenAPI document.

A handler declares what it needs by parameter name and type, and the :class:`Api` registry
injects it after validating with pydantic:

- ``body: SomeSchema`` — the JSON body, validated (unknown fields refused);
- ``query: SomeSchema`` — the query string, validated;
- any other annotated parameter whose name is a path placeholder — the path segment, validated;
- ``user: Principal`` — an authenticated caller is required (``Principal | None``: optional);
- ``request: web.Request`` and ``svc: Services`` — the raw request and the application services;
- a parameter annotated ``Annotated[str, Header(...)]`` — that request header, required and
  checked by the :class:`Header`, and declared as a header parameter in the OpenAPI document
  (``Annotated[str | None, Header(..., required=False)]``: optional, None when absent).

Every body and query model derives from :class:`~lago_core.text.StorableInput`, and path segments
are checked with the same rule: text and integers PostgreSQL cannot store are refused here, for
every endpoint, instead of failing later inside a write.

The return annotation is the response schema. Because the OpenAPI document is generated from the
same pydantic models and annotations, it cannot drift from what the server accepts.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

import orjson
from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from lago_core.errors import (
    InvalidInput,
    LagoError,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
)
from lago_core.http import json_response
from lago_core.security.cookies import ACCESS_COOKIE
from lago_core.security.roles import Principal
from lago_core.text import MAX_NESTING, StorableInput, input_error, refuse_unstorable, too_deep
from lago_rest.context import Services, principal_of, services_of
from lago_rest.web_session import cookie_refusal

__all__ = ["UNBUDGETED_ROUTES", "Api", "Endpoint", "Header"]

Handler = Callable[..., Awaitable[Any]]
_PLACEHOLDER = re.compile(r"{(\w+)}")
_JSON = "application/json"
_REF = "#/components/schemas/{model}"


# The routes the write budgets leave alone (Endpoint.write_budget), for the middleware that applies
# them to everything else.
UNBUDGETED_ROUTES: web.AppKey[frozenset[web.AbstractRoute]] = web.AppKey(
    "unbudgeted_routes", frozenset
)


@dataclass(frozen=True, slots=True)
class Header:
    """A request header that handlers take as a parameter (``Annotated[str, Header(...)]``).

    One definition both enforces the header and declares it in the OpenAPI document, so the
    document cannot leave out a header the server requires.
    """

    name: str
    description: str
    max_length: int
    # The code of the refusal when the header is missing.
    missing_code: str
    # Raises a LagoError for a value the endpoint must not accept.
    check: Callable[[str], None]
    required: bool = True
    # The values the document lists (the check enforces them); empty: any string.
    values: tuple[str, ...] = ()

    def read(self, request: web.Request) -> str | None:
        value = request.headers.get(self.name)
        if value is None:
            if not self.required:
                return None
            raise InvalidInput(
                f"send an {self.name} header: {self.description}", code=self.missing_code
            )
        self.check(value)
        return value

    def parameter(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": self.max_length}
        if self.values:
            schema = {"type": "string", "enum": list(self.values)}
        return {
            "name": self.name,
            "in": "header",
            "required": self.required,
            "description": self.description,
            "schema": schema,
        }


def _header_of(tp: Any) -> Header | None:
    if get_origin(tp) is Annotated:
        for meta in tp.__metadata__:
            if isinstance(meta, Header):
                return meta
    return None


def _is_optional(tp: Any) -> tuple[bool, Any]:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(get_args(tp)) == 2:
            return True, args[0]
    return False, tp


@dataclass(slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tags: tuple[str, ...]
    status: int
    # The handler's docstring: the operation's description in the document.
    description: str = ""
    body_model: type[BaseModel] | None = None
    # ``body: Schema | None``: a request without a body passes None.
    body_optional: bool = False
    query_model: type[BaseModel] | None = None
    path_params: dict[str, TypeAdapter[Any]] = field(default_factory=dict)
    headers: dict[str, Header] = field(default_factory=dict)
    auth: str = "none"  # "none" | "optional" | "required"
    response_type: Any = None
    wants_request: bool = False
    wants_services: bool = False
    raw_body: str | None = None  # OpenAPI media type of a non-JSON body the handler reads itself
    response_adapter: TypeAdapter[Any] | None = None
    # A larger JSON body than LAGO_MAX_BODY_BYTES for this endpoint alone (still bounded by the
    # app's client_max_size, LAGO_MAX_UPLOAD_BYTES).
    max_body_bytes: int | None = None
    # Counted in the write budgets (lago_rest/budgets.py); False only for callers that are not
    # people: the providers' signed webhooks, which a refusal would only delay.
    write_budget: bool = True

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        kwargs: dict[str, Any] = {}
        if self.auth != "none":
            principal = principal_of(request)
            if principal is None:
                # A session cookie that failed answers for itself (expired, ended, wrong origin).
                refused = cookie_refusal(request)
                if refused is not None:
                    raise refused
                if self.auth == "required":
                    raise Unauthenticated(
                        "sign in first: send Authorization: Bearer <access token>, or log in "
                        "with X-Lago-Session: cookie"
                    )
            kwargs["user"] = principal
        for name, adapter in self.path_params.items():
            raw = request.match_info[name]
            refuse_unstorable(raw, name)
            try:
                kwargs[name] = adapter.validate_python(raw)
            except ValidationError as exc:
                raise input_error(exc, f"bad path parameter {name!r}") from None
            refuse_unstorable(kwargs[name], name)
        for name, header in self.headers.items():
            kwargs[name] = header.read(request)
        if self.query_model is not None:
            raw_query = {k: request.query.getone(k) for k in request.query}
            try:
                kwargs["query"] = self.query_model.model_validate(raw_query)
            except ValidationError as exc:
                raise input_error(exc, "invalid query parameters") from None
        if self.body_model is not None:
            if self.body_optional and not request.body_exists:
                kwargs["body"] = None
            else:
                kwargs["body"] = await self._read_body(request)
        if self.wants_request:
            kwargs["request"] = request
        if self.wants_services:
            kwargs["svc"] = services_of(request)
        result = await self.handler(**kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204 if self.status == 200 else self.status)
        if self.response_adapter is not None:
            return json_response(
                self.response_adapter.dump_python(result, mode="json"), self.status
            )
        return json_response(result, self.status)

    async def _read_body(self, request: web.Request) -> BaseModel:
        assert self.body_model is not None
        if request.content_type != _JSON:
            raise UnsupportedMediaType("send the body as application/json")
        limit = max(services_of(request).settings.max_body_bytes, self.max_body_bytes or 0)
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge("the body is too large", details={"max_bytes": limit})
        raw = await request.read()  # also bounded by the app's client_max_size
        if len(raw) > limit:
            raise PayloadTooLarge("the body is too large", details={"max_bytes": limit})
        data = _decode_json(raw)
        if not isinstance(data, dict):
            raise InvalidInput("the body must be a JSON object", code="invalid_input")
        try:
            return self.body_model.model_validate(data)
        except ValidationError as exc:
            raise input_error(exc, "invalid request body") from None


def _decode_json(raw: bytes) -> Any:
    if not raw:
        return None
    data = _parse_json(raw)
    if too_deep(data):
        raise LagoError(f"the body nests more than {MAX_NESTING} levels", code="malformed_json")
    return data


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses an escaped lone surrogate ("\ud800"), which JSON's grammar allows (RFC 8259
    # §8.2): decoded here, it is refused by the storable-text rule with the field it is in.
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        # RecursionError: nesting past orjson's depth limit (1024), a 500 otherwise.
        raise LagoError("the body is not valid JSON", code="malformed_json") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _as_handler(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await endpoint(request)

    handle.__name__ = endpoint.handler.__name__
    return handle


class Api:
    """A registry of endpoints under one prefix (``/api/v1``)."""

    def __init__(self, prefix: str = "/api/v1") -> None:
        self.prefix = prefix
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        summary: str | None = None,
        tags: tuple[str, ...] = (),
        raw_body: str | None = None,
        max_body_bytes: int | None = None,
        write_budget: bool = True,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            endpoint = self._describe(
                method.upper(), path, handler, status, summary, tags, raw_body
            )
            endpoint.max_body_bytes = max_body_bytes
            endpoint.write_budget = write_budget
            self.endpoints.append(endpoint)
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)

    def include(self, other: Api) -> None:
        """Add another group's endpoints; a method and path served twice is refused: aiohttp
        would route every request to the first one, silently shadowing the other."""
        taken = {(e.method, e.path): e for e in self.endpoints}
        for endpoint in other.endpoints:
            first = taken.get((endpoint.method, endpoint.path))
            if first is not None:
                raise ValueError(
                    f"{endpoint.method} {endpoint.path} is served by both "
                    f"{first.handler.__qualname__} and {endpoint.handler.__qualname__}"
                )
            taken[(endpoint.method, endpoint.path)] = endpoint
        self.endpoints.extend(other.endpoints)

    def _describe(
        self,
        method: str,
        path: str,
        handler: Handler,
        status: int,
        summary: str | None,
        tags: tuple[str, ...],
        raw_body: str | None,
    ) -> Endpoint:
        hints = typing.get_type_hints(handler, include_extras=True)
        placeholders = set(_PLACEHOLDER.findall(path))
        doc = inspect.getdoc(handler) or ""
        endpoint = Endpoint(
            method=method,
            path=self.prefix + path,
            handler=handler,
            summary=summary or (doc.splitlines()[0] if doc else handler.__name__),
            description=doc,
            tags=tags,
            status=status,
            response_type=hints.get("return"),
            raw_body=raw_body,
        )
        if _schema_like(endpoint.response_type):
            endpoint.response_adapter = TypeAdapter(endpoint.response_type)
        for name in inspect.signature(handler).parameters:
            tp = hints.get(name)
            if tp is None:
                raise TypeError(f"{handler.__qualname__}: parameter {name!r} needs a type")
            header = _header_of(tp)
            if header is not None:
                endpoint.headers[name] = header
            elif name in ("body", "query"):
                optional, tp = _is_optional(tp) if name == "body" else (False, tp)
                endpoint.body_optional = optional
                if not (isinstance(tp, type) and issubclass(tp, StorableInput)):
                    raise TypeError(
                        f"{handler.__qualname__}: {name!r} must be a Schema (a StorableInput)"
                    )
                if name == "body":
                    endpoint.body_model = tp
                else:
                    endpoint.query_model = tp
            elif name == "user":
                optional, inner = _is_optional(tp)
                if inner is not Principal:
                    raise TypeError(f"{handler.__qualname__}: 'user' must be a Principal")
                endpoint.auth = "optional" if optional else "required"
            elif name == "request":
                endpoint.wants_request = True
            elif name == "svc":
                if tp is not Services:
                    raise TypeError(f"{handler.__qualname__}: 'svc' must be Services")
                endpoint.wants_services = True
            elif name in placeholders:
                endpoint.path_params[name] = TypeAdapter(tp)
            else:
                raise TypeError(f"{handler.__qualname__}: cannot inject parameter {name!r}")
        missing = placeholders - endpoint.path_params.keys()
        if missing:
            raise TypeError(f"{handler.__qualname__}: path placeholders {missing} not in signature")
        return endpoint

    def add_to(self, app: web.Application) -> None:
        unbudgeted = set()
        for endpoint in self.endpoints:
            route = app.router.add_route(endpoint.method, endpoint.path, _as_handler(endpoint))
            if not endpoint.write_budget:
                unbudgeted.add(route)
        app[UNBUDGETED_ROUTES] = frozenset(unbudgeted)

    # --- OpenAPI -------------------------------------------------------------------------------

    def openapi(self, *, title: str, version: str) -> dict[str, Any]:
        models: set[type[BaseModel]] = set()
        for ep in self.endpoints:
            for model in (ep.body_model, ep.query_model):
                if model is not None:
                    models.add(model)
            models.update(_models_in(ep.response_type))
        from lago_rest.schemas import ErrorEnvelope

        models.add(ErrorEnvelope)
        ordered = sorted(models, key=lambda m: m.__name__)
        mapping, top = models_json_schema([(m, "validation") for m in ordered], ref_template=_REF)
        refs = {model: dict(schema) for (model, _mode), schema in mapping.items()}
        components = _Components(dict(top.get("$defs", {})))
        paths: dict[str, Any] = {}
        for ep in self.endpoints:
            paths.setdefault(ep.path, {})[ep.method.lower()] = self._operation(ep, refs, components)
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "paths": paths,
            "components": {
                "schemas": components.schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    # Browsers: set by log-in with X-Lago-Session: cookie (lago_rest/web_session.py).
                    "cookie": {"type": "apiKey", "in": "cookie", "name": ACCESS_COOKIE},
                },
            },
        }

    def _operation(
        self, ep: Endpoint, refs: dict[Any, dict[str, Any]], components: _Components
    ) -> dict[str, Any]:
        op: dict[str, Any] = {
            "summary": ep.summary,
            "operationId": ep.handler.__name__,
            "tags": list(ep.tags),
        }
        if ep.description:
            op["description"] = ep.description
        params: list[dict[str, Any]] = []
        for name, adapter in ep.path_params.items():
            params.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": components.hoist(adapter.json_schema(ref_template=_REF)),
                }
            )
        if ep.query_model is not None:
            # The model's schema is among the components already, its references resolved there.
            schema = components.resolve(refs[ep.query_model])
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                params.append(
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                )
        params.extend(header.parameter() for header in ep.headers.values())
        if params:
            op["parameters"] = params
        if ep.body_model is not None:
            op["requestBody"] = {
                "required": not ep.body_optional,
                "content": {_JSON: {"schema": refs[ep.body_model]}},
            }
        elif ep.raw_body is not None:
            op["requestBody"] = {"required": True, "content": {ep.raw_body: {"schema": {}}}}
        if ep.auth != "none":
            op["security"] = [{"bearer": []}, {"cookie": []}]
            if ep.auth == "optional":
                op["security"].append({})
        responses: dict[str, Any] = {}
        response_schema = _schema_for(ep.response_type, refs, components)
        if ep.response_type in (web.Response, web.StreamResponse):
            # A file the handler writes itself (a CSV, a PDF): its status, not "204 No Content".
            responses[str(ep.status)] = {"description": "a file: see the operation's description"}
        elif response_schema is None:
            responses["204" if ep.status == 200 else str(ep.status)] = {"description": "done"}
        else:
            responses[str(ep.status)] = {
                "description": "success",
                "content": {_JSON: {"schema": response_schema}},
            }
        responses["default"] = {
            "description": "error envelope",
            "content": {_JSON: {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
        }
        op["responses"] = responses
        return op


def _schema_like(tp: Any) -> bool:
    return tp not in (None, type(None), web.Response, web.StreamResponse)


def _models_in(tp: Any) -> set[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {tp}
    found: set[type[BaseModel]] = set()
    for arg in get_args(tp):
        found |= _models_in(arg)
    return found


def _schema_for(
    tp: Any, refs: dict[Any, dict[str, Any]], components: _Components
) -> dict[str, Any] | None:
    if tp is None or tp is type(None) or tp is web.Response or tp is web.StreamResponse:
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return refs[tp]
    if get_origin(tp) is list:
        (inner,) = get_args(tp)
        inner_schema = _schema_for(inner, refs, components)
        return {"type": "array", "items": inner_schema or {}}
    return components.hoist(TypeAdapter(tp).json_schema(ref_template=_REF))


class _Components:
    """The document's ``components.schemas``: every schema pydantic generates is written with
    references into it, and whatever it defines under ``$defs`` is moved here, so no reference
    in the document points at a ``$defs`` that is not there."""

    def __init__(self, schemas: dict[str, Any]) -> None:
        self.schemas = schemas

    def hoist(self, schema: dict[str, Any]) -> dict[str, Any]:
        for name, definition in schema.pop("$defs", {}).items():
            known = self.schemas.setdefault(name, definition)
            if known != definition:
                raise TypeError(f"two different schemas are named {name!r}")
        return schema

    def resolve(self, ref: dict[str, Any]) -> dict[str, Any]:
        target = ref.get("$ref")
        if not isinstance(target, str):
            return ref
        resolved: dict[str, Any] = self.schemas[target.rsplit("/", 1)[-1]]
        return resolved
