"""ansvar over HTTP: route situations, list events, serve their schemas (extra `ansvar[server]`).

`create_app(router)` builds the FastAPI application; `serve(host, port, rule_dirs)` runs it on uvicorn, as
`ansvar serve` does. The OpenAPI document is generated from the same pydantic models the library uses: the
request body of `POST /route` is the discriminated union `ansvar.Situation`, the response `ansvar.Decision`.
`GET /docs` is Swagger UI over that document, its script and style served by the app itself (from the
`fastapi-swagger` package), so it works without internet; ReDoc, which only a CDN would serve, is off.

Every error is an RFC 9457 problem (`application/problem+json`): `type`, `title`, `status`, `detail`, and
`error`, the ansvar error's kind, plus the members of its type (`errors` of a 422, `what`, `value` and
`known` of an unknown municipality or event). A body sent to `POST /route` or `/route-many` as anything but
JSON is a 415, answered before the body is read.

Situations are health data. No request body and no situation value is logged (uvicorn's access log shows
method, path and status), and no error response echoes an input value: a situation that does not validate
is a 422 listing only each problem's `loc`, `msg` and `type`; a problem has no `instance` (a path may hold
a CPR number). Unexpected failures are a 500 with a fixed message; the log gets the exception's type and
stack frames, never its message.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import importlib.resources
import logging
import re
import traceback
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal, Union

import uvicorn
from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.models import Example
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import ansvar
from ansvar.errors import (
    ConflictError,
    EngineError,
    NoResponsibleError,
    RoutingError,
    SituationError,
    UnknownEventError,
    describe,
    is_id,
)
from ansvar.model.decision import Decision
from ansvar.model.events import EventDefinitions, SituationBase, shipped_definitions
from ansvar.routing.router import Router, default_router

# What an endpoint receives: one event's validated model. What FastAPI validates against and OpenAPI shows
# is the union of the router's event models, discriminated by `event` (set per app, see `_situation_union`).
AnySituation = SituationBase

MAX_SITUATIONS = 1000  # situations in one POST /route-many
MAX_BODY_BYTES = 4 * 1024 * 1024  # a full batch of situations fits with room to spare

#: The media type of every error response (RFC 9457).
PROBLEM_JSON = "application/problem+json"

#: The `type` of every problem ansvar answers. A plain HTTP error (unknown URL or method, a body too large or
#: not JSON, an unexpected failure) is `about:blank`, titled with its status phrase; ansvar's own kinds are
#: URNs: fixed identifiers, the same on every server, that need no network and are never fetched.
ProblemType = Literal[
    "about:blank",
    "urn:ansvar:problem:invalid-request",
    "urn:ansvar:problem:unknown-municipality-or-event",
    "urn:ansvar:problem:not-in-force",
    "urn:ansvar:problem:rule-pack-defect",
    "urn:ansvar:problem:engine-failure",
]
#: Each ansvar problem type's `title`: the same on every occurrence (`about:blank` has its status phrase).
PROBLEM_TITLES: dict[ProblemType, str] = {
    "urn:ansvar:problem:invalid-request": "Invalid request",
    "urn:ansvar:problem:unknown-municipality-or-event": "Unknown municipality or event",
    "urn:ansvar:problem:not-in-force": "No rule pack in force on that date",
    "urn:ansvar:problem:rule-pack-defect": "Defect in the rule packs",
    "urn:ansvar:problem:engine-failure": "Rule engine failure",
}
_PROBLEM_TYPES = """The problem's kind (RFC 9457 `type`), one of:

- `about:blank`: a plain HTTP error, `title` its status phrase: an unknown URL (404), method (405), a body
  too large (413) or not JSON (415), an internal error (500);
- `urn:ansvar:problem:invalid-request`: the request does not validate (422), `errors` says where;
- `urn:ansvar:problem:unknown-municipality-or-event`: no loaded rule pack covers it (404);
- `urn:ansvar:problem:not-in-force`: no rule pack is in force on the date asked for (409, `RoutingError`);
- `urn:ansvar:problem:rule-pack-defect`: the rule packs give no single answer (500, `ConflictError`,
  `NoResponsibleError`);
- `urn:ansvar:problem:engine-failure`: the rule engine failed (500, `EngineError`).

The URNs are identifiers, not addresses: nothing is served there."""
#: RFC 9110's names where Python's `HTTPStatus` still has older ones: a title does not change with Python.
_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}

logger = logging.getLogger("ansvar.server")


class FieldError(BaseModel):
    """One reason a request does not validate: where, what, and its kind; never the value sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loc: list[str | int] = Field(description="where: `body`, `query` or `path`, then the field's path")
    msg: str = Field(description="what is wrong, in English")
    type: str = Field(description="the kind of problem, e.g. `bool_type`, `extra_forbidden`, `missing`")


class Problem(BaseModel):
    """An error as RFC 9457 problem details (`application/problem+json`): the shape of every error response.

    `error` names the ansvar error's kind. No member repeats a value sent, and there is no `instance`: the
    path asked for may itself hold a CPR number.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ProblemType = Field(description=_PROBLEM_TYPES)
    title: str = Field(description="the problem type's summary, in English; the same on every occurrence")
    status: int = Field(ge=400, le=599, description="the HTTP status code of this response")
    detail: str = Field(description="what went wrong this time, in English")
    error: str = Field(description=(
        "the ansvar error's kind: `SituationError` (422), `UnknownEventError` (404), `RoutingError` (409), "
        "`ConflictError`, `NoResponsibleError`, `EngineError`, `InternalError` (500), "
        "`RequestTooLarge` (413), `UnsupportedMediaType` (415), `HTTPException` (unknown URL or method)"))


class InvalidRequest(Problem):
    """A request that does not validate (HTTP 422): every problem found, without the values sent."""

    type: Literal["urn:ansvar:problem:invalid-request"] = Field(description="the problem's kind")
    status: Literal[422] = Field(description="the HTTP status code")
    error: Literal["SituationError"] = Field(description="as the library raises for such a situation")
    errors: list[FieldError] = Field(description="every problem found, in order")


class NotFound(Problem):
    """An unknown municipality or event (HTTP 404), with the known ones."""

    type: Literal["urn:ansvar:problem:unknown-municipality-or-event"] = Field(description="its kind")
    status: Literal[404] = Field(description="the HTTP status code")
    error: Literal["UnknownEventError"] = Field(description="the library's error")
    what: str = Field(description="`municipality`, `event`, or `event for <municipality>`")
    value: str | None = Field(description=(
        "the name asked for; null when it has not the shape of an id (it may be health data, never echoed)"))
    known: list[str] = Field(description="the names that would have been found")


class Catalogue(BaseModel):
    """The municipalities the loaded rule packs cover and, per municipality, its events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    municipalities: dict[str, dict[str, str]] = Field(
        description="municipality -> event -> the event's Danish title",
        examples=[{"rebild": {"udredning": "Udredning"}}])


class Health(BaseModel):
    """The service is up, with how many rule packs it serves and which ansvar answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["ok"]
    packs: int = Field(description="(municipality, event) rule packs loaded")
    version: str = Field(description="the ansvar package's version")


_Responses = dict[int | str, dict[str, Any]]
# Each `model` is the schema of an `application/problem+json` body (`_App.openapi` files it under that type).
_INVALID: _Responses = {422: {"model": InvalidRequest, "description": "Invalid request"}}
_NOT_FOUND: _Responses = {404: {"model": NotFound, "description": "Unknown municipality or event"}}
# Starlette matches no route for a path holding a line break: its 404 is a plain Problem.
_NO_EVENT: _Responses = {404: {
    "model": NotFound | Problem,
    "description": "Unknown event (NotFound); or a name no route matches, e.g. with a line break (Problem)"}}
_NO_MUNICIPALITY: _Responses = {404: {
    "model": NotFound | Problem,
    "description": "Unknown municipality (NotFound); or a name no route matches, e.g. with a line break "
                   "(Problem)"}}
_ROUTING: _Responses = {
    409: {"model": Problem, "description": "No answer on that date: a rule pack is not in force yet "
                                           "(RoutingError)"},
    413: {"model": Problem, "description": "Request body too large"},
    415: {"model": Problem, "description": "The body is not sent as JSON (Content-Type `application/json` "
                                           "or `application/<name>+json`)",
          "headers": {"Accept-Post": {"description": "the media type to send",
                                      "schema": {"type": "string"}}}},
}
_FAILURE: _Responses = {
    500: {"model": Problem, "description": "A defect in the rule packs (ConflictError, NoResponsibleError), "
                                           "an engine failure (EngineError) or an internal error"},
}

_CONTRACT_EXAMPLE = {"municipality": "aalborg", "event": "afrusning",
                     "withdrawal_symptoms": True, "delirium_tremens": True}
_REBILD_EXAMPLE = {"municipality": "rebild", "event": "behandlingsforloeb", "substance": "alkohol",
                   "clarifying_conversation_on": "2025-08-04", "treatment_started_on": "2025-08-12",
                   "treatment_ended_on": "2026-01-31"}
_EXAMPLES: dict[str, Example] = {
    "afrusning": {"summary": "Aalborg: detox with delirium tremens (the contract's example)",
                  "value": _CONTRACT_EXAMPLE},
    "behandlingsforloeb": {"summary": "Rebild: a treatment course that ended on 31 January 2026",
                           "value": _REBILD_EXAMPLE},
}
_MANY_EXAMPLES: dict[str, Example] = {
    "both": {"summary": "The two examples of POST /route", "value": [_CONTRACT_EXAMPLE, _REBILD_EXAMPLE]},
}

#: Errors of a valid request: status, problem type and message label (first match wins: subclasses first).
_STATUS: tuple[tuple[type[Exception], int, ProblemType, str], ...] = (
    (ConflictError, 500, "urn:ansvar:problem:rule-pack-defect", "rule pack defect: "),
    (NoResponsibleError, 500, "urn:ansvar:problem:rule-pack-defect", "rule pack defect: "),
    (RoutingError, 409, "urn:ansvar:problem:not-in-force", ""),
    (EngineError, 500, "urn:ansvar:problem:engine-failure", "engine failure: "),
)

#: A JSON media type: `application/json` or `application/<name>+json`, parameters (charset) aside.
_JSON_MEDIA_TYPE = re.compile(r"application/(?:[a-z0-9!#$&^_.+-]+\+)?json", re.IGNORECASE)

#: Swagger UI's files, from the `fastapi-swagger` package (the server extra: importing this module without it
#: fails as without fastapi, and `ansvar serve` names the extra): name -> media type.
_SWAGGER_UI = importlib.resources.files("fastapi_swagger.resources")
_SWAGGER_UI_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                     "favicon-32x32.png": "image/png"}

OnQuery = Annotated[dt.date | None, Query(
    description="The date to answer for (YYYY-MM-DD, default today): picks rule versions and deadlines")]


def create_app(router: Router | None = None) -> FastAPI:
    """The HTTP application over `router` (default: `ansvar.default_router()`, the shipped packs)."""
    routes = router if router is not None else default_router()
    version = ansvar.__version__  # the package metadata's, as `ansvar --version` says
    app = _App(
        title="ansvar",
        version=version,
        summary="Who is responsible, and what happens next?",
        description="Routes a citizen's situation in Danish municipal substance-abuse treatment to the "
                    "responsible actor, with the next steps, deadlines, warnings, the guide passages behind "
                    "every conclusion, and a trace of the rules that fired. Texts for caseworkers are "
                    "Danish; identifiers and errors English. Every error is an RFC 9457 problem "
                    "(`application/problem+json`): see the `Problem` schema for its `type`s.",
        responses=_FAILURE,
        docs_url=None,  # served below from installed files, not a CDN
        redoc_url=None,  # ReDoc would load from a CDN: off
    )
    app.router.route_class = _JsonBodyRoute
    app.state.events = routes.definitions
    _add_docs(app)
    union = _situation_union(routes.definitions)

    def route(situation: AnySituation, on: OnQuery = None) -> Decision:
        """Who is responsible for this situation, and what happens next, on date `on`."""
        return routes.route(situation, on=on)

    route.__annotations__["situation"] = Annotated[union, Body(
        description="One citizen situation; `event` picks its model", openapi_examples=_EXAMPLES,
        discriminator="event")]  # older FastAPI keeps only this FieldInfo, not the union's own
    app.post("/route", response_model=Decision, responses=_INVALID | _NOT_FOUND | _ROUTING,
             summary="Route one situation", tags=["routing"])(route)

    def route_many(situations: list[AnySituation], on: OnQuery = None) -> list[Decision]:
        """One Decision per situation, in the same order; one bad situation fails the whole request."""
        return routes.route_many(situations, on=on)

    route_many.__annotations__["situations"] = Annotated[list[union], Body(  # type: ignore[valid-type]
        max_length=MAX_SITUATIONS, description=f"Situations to route, at most {MAX_SITUATIONS}",
        openapi_examples=_MANY_EXAMPLES)]
    app.post("/route-many", response_model=list[Decision], responses=_INVALID | _NOT_FOUND | _ROUTING,
             summary="Route many situations", tags=["routing"])(route_many)

    @app.get("/events", response_model=Catalogue, summary="Municipalities and their events", tags=["rules"])
    def events() -> Catalogue:
        """Every municipality the loaded rule packs cover, with its events and their Danish titles."""
        return Catalogue(municipalities={m: routes.events(m) for m in routes.municipalities()})

    # `:path` so that a name holding "/" is still this route's (a 404 naming it), not an unknown URL.
    @app.get("/events/{event:path}/schema", response_model=dict[str, Any], responses=_INVALID | _NO_EVENT,
             summary="JSON Schema of an event's situation", tags=["rules"])
    def event_schema(event: Annotated[str, Path(
            description="an event id, e.g. `afrusning`",
            openapi_examples={"afrusning": {"summary": "detox", "value": "afrusning"}})]) -> dict[str, Any]:
        """The JSON Schema of the facts a situation of `event` may carry (`Router.situation_schema`)."""
        return routes.situation_schema(event)

    # After the schema route: `/events/<event>/schema` is that route's, any other `/events/...` this one's.
    @app.get("/events/{municipality:path}", response_model=dict[str, str],
             responses=_INVALID | _NO_MUNICIPALITY, summary="A municipality's events", tags=["rules"])
    def municipality_events(municipality: Annotated[str, Path(
            description="a municipality id, e.g. `rebild`",
            openapi_examples={"rebild": {"summary": "Rebild", "value": "rebild"}})]) -> dict[str, str]:
        """The events the municipality's rule packs cover, each with its Danish title (`Router.events`)."""
        return routes.events(municipality)

    @app.get("/health", response_model=Health, summary="Liveness", tags=["service"])
    def health() -> Health:
        """The service is up; how many rule packs it serves."""
        packs = sum(len(routes.events(m)) for m in routes.municipalities())
        return Health(status="ok", packs=packs, version=version)

    for handled in (RequestValidationError, HTTPException, SituationError, UnknownEventError, RoutingError,
                    EngineError):
        app.add_exception_handler(handled, _error_response)
    app.add_middleware(_Guard)
    return app


def serve(host: str = "127.0.0.1", port: int = 8000,
          rule_dirs: Iterable[FilePath | str] | None = None) -> None:
    """Run the HTTP service on uvicorn until interrupted (`rule_dirs`: default the shipped packs)."""
    router = Router(rule_dirs) if rule_dirs is not None else default_router()
    uvicorn.run(create_app(router), host=host, port=port)


class _App(FastAPI):
    """FastAPI, with every documented error response under `application/problem+json`."""

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document; FastAPI files each response model under JSON, errors are problem+json."""
        if self.openapi_schema is None:
            spec = super().openapi()
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if str(status)[:1] in {"4", "5"} and "application/json" in content:
                            content[PROBLEM_JSON] = content.pop("application/json")
        return self.openapi_schema or {}


def _add_docs(app: FastAPI) -> None:
    """`GET /docs`, Swagger UI, self-hosted as FastAPI's docs show: every file from this server, no CDN."""
    assets = f"/docs/swagger-ui/{importlib.metadata.version('fastapi-swagger')}"  # a new version, a new URL
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon-32x32.png", oauth2_redirect_url=f"{root}{redirect}",
            swagger_ui_parameters={"validatorUrl": None})  # no badge sending the document to swagger.io

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    def asset(name: str, media_type: str) -> Callable[[], Response]:
        def served() -> Response:
            return Response(_swagger_ui_file(name), media_type=media_type,
                            headers={"Cache-Control": "public, max-age=31536000, immutable"})
        return served

    for name, media_type in _SWAGGER_UI_FILES.items():
        app.add_api_route(f"{assets}/{name}", asset(name, media_type), methods=["GET"],
                          include_in_schema=False)


@functools.cache
def _swagger_ui_file(name: str) -> bytes:
    return (_SWAGGER_UI / name).read_bytes()


class UnsupportedMediaType(HTTPException):
    """A body of `POST /route` or `/route-many` that is not sent as JSON: a 415 Problem, before it is read."""

    def __init__(self) -> None:
        super().__init__(415, "the request body must be JSON: Content-Type application/json "
                              "(or application/<name>+json)", headers={"Accept-Post": "application/json"})


def _is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header names JSON (`application/json`, `application/<name>+json`)."""
    media_type = (content_type or "").split(";", 1)[0].strip()
    return _JSON_MEDIA_TYPE.fullmatch(media_type) is not None


class _JsonBodyRoute(APIRoute):
    """A route whose request body must be sent as JSON: any other Content-Type, or none, is a 415."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, after the Content-Type check where the route takes a body."""
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            if not _is_json(request.headers.get("content-type")):
                raise UnsupportedMediaType
            return await handler(request)

        return checked


def _situation_union(events: EventDefinitions) -> Any:  # noqa: ANN401 - a typing construct
    """The discriminated union of the event models: what FastAPI validates and OpenAPI shows."""
    models = tuple(definition.model for definition in events.values())
    return Annotated[Union[models], Field(discriminator="event")]  # noqa: UP007 - built at run time


def _field_errors(errors: Iterable[Mapping[str, Any]], events: EventDefinitions) -> list[FieldError]:
    """`loc`, `msg` and `type` of each error; the union's event tag dropped from `loc` as the library does."""
    found = []
    for error in errors:
        loc = list(error.get("loc", ()))
        at = 2 if len(loc) > 1 and isinstance(loc[1], int) else 1  # a list item's index comes first
        event = None
        if loc[:1] == ["body"] and len(loc) > at + 1 and loc[at] in events:
            event = loc.pop(at)
        # ansvar's words, as the library says them (a misspelt fact gets its suggestion here too)
        known = events[event].model.model_fields if event else ()
        message = describe(error, known, f"unknown fact of event {event!r}" if event else "unknown key")
        loc = [p if isinstance(p, int) or is_id(p) else "(no id)" for p in loc]  # a key may be a CPR number
        found.append(FieldError(loc=loc, msg=message, type=str(error.get("type", ""))))
    if not found:
        found.append(FieldError(loc=[], msg="invalid request", type="invalid"))
    return found


def _event_of(body: object, loc: Sequence[object]) -> object:
    """The `event` the client sent at a union error's location (the body, or an item of it)."""
    item = body
    for part in loc[1:]:
        if isinstance(part, int) and isinstance(item, list) and 0 <= part < len(item):
            item = item[part]
        else:
            return None
    return item.get("event") if isinstance(item, dict) else None


class _ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def _problem(body: Problem, headers: Mapping[str, str] | None = None) -> Response:
    return _ProblemResponse(status_code=body.status, content=body.model_dump(mode="json"), headers=headers)


def _title(status: int) -> str:
    """`about:blank`'s title: the status phrase (RFC 9457, 4.2.1)."""
    return _PHRASES.get(status) or HTTPStatus(status).phrase


def _error_response(request: Request, exc: Exception) -> Response:
    """The response to each error the endpoints and FastAPI raise on purpose."""
    app = request.scope.get("app")
    events: EventDefinitions = getattr(getattr(app, "state", None), "events", None) or shipped_definitions()
    if isinstance(exc, RequestValidationError):
        return _invalid_request(exc, events)
    if isinstance(exc, SituationError):
        return _invalid_situation(exc, events)
    if isinstance(exc, UnknownEventError):
        return _unknown(exc)
    for kind, status, problem_type, label in _STATUS:
        if isinstance(exc, kind):
            return _problem(Problem(type=problem_type, title=PROBLEM_TITLES[problem_type], status=status,
                                    detail=f"{label}{exc}", error=type(exc).__name__))
    if isinstance(exc, HTTPException) and exc.status_code == HTTPStatus.BAD_REQUEST:
        # FastAPI's one 400: a body it could not read as JSON (not UTF-8, say): as invalid as broken JSON.
        error = {"loc": ("body",), "msg": "the body is not JSON in UTF-8", "type": "json_invalid"}
        return _invalid(_field_errors([error], events))
    if isinstance(exc, HTTPException):  # Starlette's own (unknown URL or method) and ours (413, 415)
        body = Problem(type="about:blank", title=_title(exc.status_code), status=exc.status_code,
                       detail=str(exc.detail), error=type(exc).__name__)
        return _problem(body, headers=exc.headers)
    raise exc  # registered for the classes above only


def _invalid(errors: list[FieldError]) -> Response:
    """The 422 problem: every error in `errors`, and the first few (locations and messages) in `detail`."""
    shown = "; ".join(f"{'.'.join(str(p) for p in e.loc) or '(request)'}: {e.msg}" for e in errors[:3])
    more = f"; and {len(errors) - 3} more" if len(errors) > 3 else ""
    return _problem(InvalidRequest(type="urn:ansvar:problem:invalid-request",
                                   title=PROBLEM_TITLES["urn:ansvar:problem:invalid-request"], status=422,
                                   detail=f"invalid request: {shown}{more}", error="SituationError",
                                   errors=errors))


def _invalid_request(exc: RequestValidationError, events: EventDefinitions) -> Response:
    """422 without the input values; an event the contract does not know is a 404, as in the library."""
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") != "union_tag_invalid":
            continue
        event = _event_of(exc.body, error.get("loc", ()))
        if isinstance(event, str):
            return _unknown(UnknownEventError("event", event, events))
        error.update(loc=(*error.get("loc", ()), "event"), type="event",
                     msg=f"must be a string; known events: {', '.join(sorted(events))}")
    return _invalid(_field_errors(errors, events))


def _invalid_situation(exc: SituationError, events: EventDefinitions) -> Response:
    # Raised by the router after the body validated: only `on` is left to check (its range).
    errors = [{**e, "loc": ("query", *e["loc"]) if tuple(e["loc"][:1]) == ("on",) else ("body", *e["loc"])}
              for e in exc.errors]
    return _invalid(_field_errors(errors, events))


def _unknown(exc: UnknownEventError) -> Response:
    value = exc.value if is_id(exc.value) else None
    named = repr(value) if value is not None else "(a value that is no id)"
    known = ", ".join(exc.known) or "(none)"
    return _problem(NotFound(
        type="urn:ansvar:problem:unknown-municipality-or-event",
        title=PROBLEM_TITLES["urn:ansvar:problem:unknown-municipality-or-event"], status=404,
        detail=f"unknown {exc.what} {named}; known: {known}", error="UnknownEventError",
        what=exc.what, value=value, known=list(exc.known)))


class RequestTooLarge(HTTPException):
    """A request body over `MAX_BODY_BYTES`: raised while the body is read, answered as a 413 Problem."""

    def __init__(self) -> None:
        super().__init__(413, f"request body larger than {MAX_BODY_BYTES} bytes")


class _Guard:
    """Around the app: a bounded request body, and a problem 500 for any exception nothing else handled.

    Starlette's own last resort would answer in plain text and log the exception's message, which may
    carry values; this sits just inside it, so nothing reaches it. The log gets the exception's type and stack
    frames, never its message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", ())).get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            await _error_response(Request(scope), RequestTooLarge())(scope, receive, send)
            return
        started = False
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise RequestTooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded, watch)
        except Exception as exc:  # noqa: BLE001 - the last resort: every exception, answered and logged
            frames = "".join(traceback.format_tb(exc.__traceback__))
            logger.error("unexpected %s in %s %s (message withheld: may hold situation values)\n%s",  # noqa: TRY400
                         type(exc).__name__, scope.get("method"), scope.get("path"), frames)
            if started:  # too late for a response: end it; re-raising would log the message
                return
            body = Problem(type="about:blank", title=_title(500), status=500,
                           detail="internal error; the server log says where", error="InternalError")
            await _problem(body)(scope, receive, send)
