"""ansvar over HTTP: route situations, list events, serve their schemas (extra `ansvar[server]`).

`create_app(router)` builds the FastAPI application; `serve(host, port, rule_dirs)` runs it on uvicorn, as
`ansvar serve` does. The OpenAPI document is generated from the same pydantic models the library uses: the
request body of `POST /route` is the discriminated union `ansvar.Situation`, the response `ansvar.Decision`.
`POST /next-question` takes the same body and answers the one fact to ask next (`ansvar.next_question`);
`POST /route?complete=true` refuses to answer on assumptions (a 422 listing the open questions).
`GET /docs` is Swagger UI over that document, its script and style served by the app itself (from the
`fastapi-swagger` package), so it works without internet; ReDoc, which only a CDN would serve, is off.
`GET /` and `POST /` are the caseworker's page in Danish (`ansvar.render.page`): the same router, its
situation only ever in a POST body, under a strict Content-Security-Policy (`PAGE_HEADERS`), `no-store`, and
no cookie; its CSS and JavaScript are served from the package under `/static/<version>/`. A page error is
the page again with one Danish line, never a problem document.

Every error is an RFC 9457 problem (`application/problem+json`): `type`, `title`, `status`, `detail`, and
`error`, the ansvar error's kind, plus the members of its type (`errors` of a 422, `what`, `value` and
`known` of an unknown municipality or event). A body sent to `POST /route` or `/route-many` as anything but
JSON is a 415, answered before the body is read. ansvar reads the JSON itself, as strictly as the command
line: a key given twice in one object, nesting deeper than `MAX_DEPTH` or a number of more digits than
Python converts is a 422 saying so; so is an `on` that is not a date written `YYYY-MM-DD`, or given twice.

Situations are health data. No request body and no situation value is logged: uvicorn's access log shows
method, the route's template (`/events/{event}/schema`, never the path asked for nor its query) and status.
No error response echoes an input value: a situation that does not validate is a 422 listing only each
problem's `loc`, `msg` and `type` (the first `MAX_LISTED`, and how many there were); a problem has no
`instance` (a path may hold a CPR number); an unknown municipality or event is named only if ansvar knows
the name as another id (a name in lower case has the shape of an id, but may be a person's). Unexpected
failures are a 500 with a fixed message; the log gets the exception's type and stack frames, never its
message.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.metadata
import importlib.resources
import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from contextvars import ContextVar
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
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import ansvar
from ansvar.errors import (
    ConflictError,
    EngineError,
    IncompleteSituationError,
    NoResponsibleError,
    RoutingError,
    SituationError,
    UnknownEventError,
    describe,
    field,
    shown,
)
from ansvar.model.decision import Decision
from ansvar.model.events import EventDefinitions, SituationBase, shipped_definitions
from ansvar.model.unknowns import OpenQuestion
from ansvar.render.page import STATIC_FILES, Page, static_file
from ansvar.routing.router import Router, default_router

# What an endpoint receives: one event's validated model. What FastAPI validates against and OpenAPI shows
# is the union of the router's event models, discriminated by `event` (set per app, see `_situation_union`).
AnySituation = SituationBase

MAX_SITUATIONS = 1000  # situations in one POST /route-many
MAX_BODY_BYTES = 4 * 1024 * 1024  # a full batch of situations fits with room to spare
MAX_DEPTH = 64  # JSON nesting of a request body: a batch of situations nests 2 levels
MAX_LISTED = 20  # problems a 422 lists in `errors` (`count` says how many were found): its body stays small

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
    msg: str = Field(description=(
        "what is wrong, in English; a fact not stated (`not_stated`, `complete=true`): `ikke oplyst: ` and "
        "its Danish question"))
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
        "the ansvar error's kind: `SituationError`, `IncompleteSituationError` (422), `UnknownEventError` "
        "(404), `RoutingError` (409), "
        "`ConflictError`, `NoResponsibleError`, `EngineError`, `InternalError` (500), "
        "`RequestTooLarge` (413), `UnsupportedMediaType` (415), `HTTPException` (unknown URL or method)"))


class InvalidRequest(Problem):
    """A request that does not validate (HTTP 422): the problems found (the first `MAX_LISTED`), no values."""

    type: Literal["urn:ansvar:problem:invalid-request"] = Field(description="the problem's kind")
    status: Literal[422] = Field(description="the HTTP status code")
    error: Literal["SituationError", "IncompleteSituationError"] = Field(description=(
        "as the library raises for such a situation: `IncompleteSituationError` when `complete=true` and "
        "the answer would rest on facts not stated (`errors`: one per open question, `loc` the fact, type "
        "`not_stated`)"))
    errors: list[FieldError] = Field(description=f"the problems found, in order: the first {MAX_LISTED}")
    count: int = Field(ge=1, description="how many problems were found (more than `errors` lists if over "
                                         f"{MAX_LISTED})")


class NotFound(Problem):
    """An unknown municipality or event (HTTP 404), with the known ones."""

    type: Literal["urn:ansvar:problem:unknown-municipality-or-event"] = Field(description="its kind")
    status: Literal[404] = Field(description="the HTTP status code")
    error: Literal["UnknownEventError"] = Field(description="the library's error")
    what: str = Field(description="`municipality`, `event`, or `event for <municipality>`")
    value: str | None = Field(description=(
        "the name asked for when ansvar knows it as an id (an event another municipality covers, a "
        "municipality asked for as an event); otherwise null: a name asked for may be a person's, and is "
        "never echoed"))
    known: list[str] = Field(description="the names that would have been found")


class Catalogue(BaseModel):
    """The municipalities the loaded rule packs cover and, per municipality, its events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    municipalities: dict[str, dict[str, str]] = Field(
        description="municipality -> event -> the event's Danish title",
        examples=[{"rebild": {"udredning": "Udredning"}}])


class NextQuestion(BaseModel):
    """The one fact to ask next (`ansvar.next_question`), or none: the answer no longer depends on any."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: OpenQuestion | None = Field(description=(
        "the unstated fact that splits the possible answers best: its id (`fact`), Danish label and "
        "question, and each value with how the answer would differ; null when the answer is settled"))
    settled: bool = Field(description=(
        "no fact left unstated would change the answer (`question` is null): route it as it stands"))


class Health(BaseModel):
    """The service is up, with how many rule packs it serves and which ansvar answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["ok"]
    packs: int = Field(description="(municipality, event) rule packs loaded")
    version: str = Field(description="the ansvar package's version")


_Responses = dict[int | str, dict[str, Any]]
# Each `model` is the schema of an `application/problem+json` body (`_App.openapi` files it under that type).
_INVALID: _Responses = {422: {"model": InvalidRequest, "description": "Invalid request"}}
_INCOMPLETE: _Responses = {422: {
    "model": InvalidRequest,
    "description": "Invalid request (SituationError); or, with `complete=true`, an answer that would rest on "
                   "facts not stated (IncompleteSituationError: `errors` lists the open questions)"}}
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
_NEXT_EXAMPLES: dict[str, Example] = {
    "afrusning": {"summary": "Aalborg: detox, nothing stated yet",
                  "value": {"municipality": "aalborg", "event": "afrusning"}},
    "udredning": {"summary": "Rebild: an assessment without the date of the clarifying conversation",
                  "value": {"municipality": "rebild", "event": "udredning", "substance": "alkohol",
                            "substitution": False, "returning_client": False, "consent_medcom": True}},
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

#: A date as `on` takes it: `YYYY-MM-DD`, nothing else (no time, no timestamp, no ISO week or basic format).
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: object) -> object:
    """`value` if written as a date `YYYY-MM-DD` (pydantic then reads it); else a `date_parsing` error."""
    if (isinstance(value, str) and _ISO_DATE.fullmatch(value)) or (
            isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    raise PydanticCustomError("date_parsing", "must be a date (YYYY-MM-DD)")


OnQuery = Annotated[dt.date | None, Query(
    description="The date to answer for (YYYY-MM-DD, default today): picks rule versions and deadlines"),
    BeforeValidator(_iso_date)]
CompleteQuery = Annotated[bool, Query(
    description="Refuse to answer on assumptions: when the answer would rest on facts not stated, a 422 "
                "(`IncompleteSituationError`) lists each open question (`loc` the fact, `msg` its Danish "
                "question) instead of a Decision")]


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
    app.state.router = routes  # a 404 echoes a name asked for only if ansvar knows it as an id
    logging.getLogger("uvicorn.access").addFilter(_ACCESS_LOG)  # once per process: the same filter
    _add_docs(app)
    _add_page(app, routes, version)
    union = _situation_union(_router_events(routes))

    def route(situation: AnySituation, on: OnQuery = None, *, complete: CompleteQuery = False) -> Decision:
        """Who is responsible for this situation, and what happens next, on date `on`.

        Facts not stated are unknown: the Decision lists the open questions whose answer would change it,
        and the defaults it assumed (`complete=true`: a 422 instead of an answer on assumptions).
        """
        return routes.route(situation, on=on, complete=complete)

    route.__annotations__["situation"] = Annotated[union, Body(
        description="One citizen situation; `event` picks its model", openapi_examples=_EXAMPLES,
        discriminator="event")]  # older FastAPI keeps only this FieldInfo, not the union's own
    app.post("/route", response_model=Decision, responses=_INCOMPLETE | _NOT_FOUND | _ROUTING,
             summary="Route one situation", tags=["routing"])(route)

    def next_question(situation: AnySituation, on: OnQuery = None) -> NextQuestion:
        """The one unstated fact to ask next: the one that splits the possible answers best.

        Null (`settled`) once the answer depends on nothing unstated; a date a deadline waits for comes last.
        """
        question = routes.next_question(situation, on=on)
        return NextQuestion(question=question, settled=question is None)

    next_question.__annotations__["situation"] = Annotated[union, Body(
        description="A citizen situation, as far as it is known; `event` picks its model",
        openapi_examples=_NEXT_EXAMPLES, discriminator="event")]
    app.post("/next-question", response_model=NextQuestion, responses=_INVALID | _NOT_FOUND | _ROUTING,
             summary="The next question to ask", tags=["routing"])(next_question)

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
    app.add_exception_handler(_Refused, _refused)
    app.add_middleware(_Guard, routes=app.router)
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


#: The headers of the caseworker's page and its files: nothing but this server's own files may load, no
#: form may post elsewhere, no page may frame it, no address is sent on; and it sets no cookie.
PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
#: A page that may show a situation is never stored by a browser or a proxy.
_NO_STORE = {"Cache-Control": "no-store"}
_FORM = "application/x-www-form-urlencoded"


def _add_page(app: FastAPI, routes: Router, version: str) -> None:
    """`GET /` and `POST /`: the caseworker's page (`ansvar.render.page`), and its files, from the package.

    The situation is only ever in a POST body, never in a URL: the access log (which names the route's
    template, `/`) and a browser's history hold none of it.
    """
    static = f"/static/{version}"  # a new version, a new URL: the files are cached for good
    page = Page(routes, static=static)

    def html(status: int, text: str) -> HTMLResponse:
        return HTMLResponse(text, status_code=status, headers={**PAGE_HEADERS, **_NO_STORE})

    @app.get("/", include_in_schema=False)
    def start() -> HTMLResponse:
        return html(200, page.start())

    @app.post("/", include_in_schema=False)
    async def answer(request: Request) -> HTMLResponse:
        media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media_type != _FORM:
            return html(415, page.start("Formularen kunne ikke læses: den skal sendes fra siden selv."))
        body = await request.body()
        status, text = await run_in_threadpool(page.answer, body)  # the engine's lock: off the event loop
        return html(status, text)

    def asset(name: str, media_type: str) -> Callable[[], Response]:
        def served() -> Response:
            return Response(static_file(name), media_type=media_type,
                            headers={**PAGE_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"})
        return served

    for name, media_type in STATIC_FILES.items():
        app.add_api_route(f"{static}/{name}", asset(name, media_type), methods=["GET"],
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


class _Refused(Exception):  # noqa: N818 - not an error of ansvar's family: answered as a 422, never raised out
    """A request that ansvar refuses before FastAPI validates it: its problems, as a 422 lists them."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} problem(s) in the request")  # no value: may reach a log


class _Duplicated(dict[str, Any]):
    """A JSON object that gave a key more than once (the last value kept, as `json` does): refused."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        twice: dict[str, None] = {}  # each key once, in order, however often it was given
        for key, _ in pairs:
            if key in seen:
                twice[key] = None
            seen.add(key)
        self.keys_twice = list(twice)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; one that repeats a key is marked (checked linearly: a dict is as long as its pairs)."""
    found = dict(pairs)
    return found if len(found) == len(pairs) else _Duplicated(pairs)


_CONTAINERS = frozenset({dict, list, _Duplicated})
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def _structure(value: object) -> list[dict[str, Any]]:
    """The duplicate keys of a parsed body, and where it nests deeper than `MAX_DEPTH`, in document order."""
    problems: list[dict[str, Any]] = []
    too_deep = False
    stack: list[tuple[object, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, loc = stack.pop()
        if len(loc) >= MAX_DEPTH:  # said once, of the body, as when Python's own limit is reached
            too_deep = True
            continue
        if isinstance(node, _Duplicated):
            problems.extend({"loc": ("body", *loc, key), "msg": f"duplicate key {shown(key)}",
                             "type": "json_duplicate_key"} for key in node.keys_twice)
        values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        if _CONTAINERS.isdisjoint(map(type, values)):  # at C speed: most lists hold no container
            continue
        keyed: Iterable[tuple[str | int, object]] = node.items() if isinstance(node, dict) else enumerate(
            node)  # type: ignore[arg-type] # node is a list here
        stack.extend(reversed([(child, (*loc, at)) for at, child in keyed if type(child) in _CONTAINERS]))
    if too_deep:
        problems.insert(0, {"loc": ("body",), "msg": _TOO_DEEP, "type": "json_too_deep"})
    return problems


def _read_json(raw: bytes) -> Any:  # noqa: ANN401 - any JSON value
    """A request body as JSON, or `_Refused` saying in one line what is wrong with it (never a value)."""
    problem: tuple[str, str]
    try:
        value = json.loads(raw, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:  # its reason only: an escape's message would quote the characters
        problem = (f"not JSON: {exc.msg.partition(':')[0]} (line {exc.lineno}, column {exc.colno})",
                   "json_invalid")
    except UnicodeDecodeError:
        problem = ("the body is not JSON in UTF-8", "json_invalid")
    except RecursionError:
        problem = (_TOO_DEEP, "json_too_deep")
    except ValueError:  # the one other: an integer of more digits than Python converts
        limit = sys.get_int_max_str_digits()
        problem = (f"a number with more than {limit} digits", "json_number_too_long")
    else:
        problems = _structure(value)
        if problems:
            raise _Refused(problems)
        return value
    raise _Refused([{"loc": ("body",), "msg": problem[0], "type": problem[1]}])


class _JsonRequest(Request):
    """A request whose JSON body ansvar reads itself (`_read_json`): FastAPI's documented custom Request."""

    async def json(self) -> Any:  # noqa: ANN401 - any JSON value
        """The body as JSON, read once; `_Refused` if it is not JSON ansvar takes."""
        if not hasattr(self, "_ansvar_json"):
            self._ansvar_json = _read_json(await self.body())
        return self._ansvar_json


class _JsonBodyRoute(APIRoute):
    """A route whose body must be sent as JSON (else a 415), read by ansvar, and whose query has no repeats.

    Any other Content-Type, or none, is a 415; ansvar reads the JSON itself (`_read_json`); a query
    parameter given twice is a 422 (FastAPI would take the last one silently).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, after the Content-Type check, the query and the body read."""
        handler = super().get_route_handler()
        takes_body = self.body_field is not None
        queries = tuple(field.alias for field in self.dependant.query_params)
        if not takes_body and not queries:
            return handler

        async def checked(request: Request) -> Response:
            if takes_body and not _is_json(request.headers.get("content-type")):
                raise UnsupportedMediaType
            twice = [name for name in queries if len(request.query_params.getlist(name)) > 1]
            if twice:
                raise _Refused([{"loc": ("query", name), "msg": "given more than once", "type": "duplicate"}
                                for name in twice])
            if takes_body:
                request = _JsonRequest(request.scope, request.receive)
                if await request.body():  # an empty body is FastAPI's to call missing
                    await request.json()  # here, not in FastAPI's handler: it would answer any error as a 400
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
        loc = [field(p) for p in loc]  # a key may be a CPR number
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
    events = _events(request)
    if isinstance(exc, RequestValidationError):
        return _invalid_request(request, exc, events)
    if isinstance(exc, SituationError):
        return _invalid_situation(exc, events)
    if isinstance(exc, UnknownEventError):
        return _unknown(request, exc)
    for kind, status, problem_type, label in _STATUS:
        if isinstance(exc, kind):
            return _problem(Problem(type=problem_type, title=PROBLEM_TITLES[problem_type], status=status,
                                    detail=f"{label}{exc}", error=type(exc).__name__))
    if isinstance(exc, HTTPException) and exc.status_code == HTTPStatus.BAD_REQUEST:
        # FastAPI's one 400, a body it could not read as JSON: ansvar reads bodies itself, so a fallback only.
        error = {"loc": ("body",), "msg": "the body is not JSON in UTF-8", "type": "json_invalid"}
        return _invalid(_field_errors([error], events), 1)
    if isinstance(exc, HTTPException):  # Starlette's own (unknown URL or method) and ours (413, 415)
        body = Problem(type="about:blank", title=_title(exc.status_code), status=exc.status_code,
                       detail=str(exc.detail), error=type(exc).__name__)
        return _problem(body, headers=exc.headers)
    raise exc  # registered for the classes above only


def _refused(_request: Request, exc: Exception) -> Response:
    """The 422 of a request ansvar refused before FastAPI validated it (its JSON, a repeated query)."""
    errors = exc.errors if isinstance(exc, _Refused) else []
    return _invalid([_field_error(e) for e in errors[:MAX_LISTED]], len(errors))


def _field_error(error: Mapping[str, Any]) -> FieldError:
    """One problem ansvar found itself (already in its words), its location's keys withheld unless ids."""
    loc = [field(p) for p in error["loc"]]
    return FieldError(loc=loc, msg=str(error["msg"]), type=str(error["type"]))


def _invalid(errors: list[FieldError], count: int, *, incomplete: bool = False) -> Response:
    """The 422 problem: `errors` (at most `MAX_LISTED` of the `count` found), the first few in `detail`.

    `incomplete`: the request was valid, but `complete=true` and the answer would rest on facts not stated.
    """
    errors = errors[:MAX_LISTED]
    count = max(count, len(errors))
    shown = "; ".join(f"{'.'.join(str(p) for p in e.loc) or '(request)'}: {e.msg}" for e in errors[:3])
    more = f"; and {count - 3} more" if count > 3 else ""
    said = "incomplete situation: the answer depends on facts not stated" if incomplete else "invalid request"
    return _problem(InvalidRequest(type="urn:ansvar:problem:invalid-request",
                                   title=PROBLEM_TITLES["urn:ansvar:problem:invalid-request"], status=422,
                                   detail=f"{said}: {shown}{more}",
                                   error="IncompleteSituationError" if incomplete else "SituationError",
                                   errors=errors, count=count))


def _incomplete(exc: IncompleteSituationError) -> Response:
    """`complete=true` refused an answer on assumptions: one error per open question, at `body.<fact>`.

    The messages are the library's (`ikke oplyst: ` and the fact's Danish question): the event's words,
    never a value of the situation.
    """
    errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors]
    return _invalid([_field_error(e) for e in errors[:MAX_LISTED]], len(errors), incomplete=True)


def _invalid_request(request: Request, exc: RequestValidationError, events: EventDefinitions) -> Response:
    """422 without the input values; an event the contract does not know is a 404, as in the library."""
    errors = list(exc.errors())
    for error in errors:
        loc = error.get("loc", ())
        if error.get("type") == "union_tag_not_found":  # as the library says it (not pydantic's words)
            error.update(loc=(*loc, "event"), type="event",
                         msg=f"missing; known events: {', '.join(sorted(events))}")
        if error.get("type") != "union_tag_invalid":
            continue
        event = _event_of(exc.body, loc)
        if isinstance(event, str):
            unknown = UnknownEventError("event", event, events)
            at = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None  # an item of a batch
            return _unknown(request, unknown if at is None else unknown.at(f"situation {at}"))
        error.update(loc=(*loc, "event"), type="event",
                     msg=f"must be a string; known events: {', '.join(sorted(events))}")
    # Only the listed ones are described (a misspelt key's suggestion costs): 60,000 keys stay cheap.
    return _invalid(_field_errors(errors[:MAX_LISTED], events), len(errors))


def _invalid_situation(exc: SituationError, events: EventDefinitions) -> Response:
    if isinstance(exc, IncompleteSituationError):
        return _incomplete(exc)
    # Raised by the router after the body validated: only `on` is left to check (its range).
    errors = [{**e, "loc": ("query", *e["loc"]) if tuple(e["loc"][:1]) == ("on",) else ("body", *e["loc"])}
              for e in exc.errors]
    return _invalid(_field_errors(errors[:MAX_LISTED], events), len(errors))


def _events(request: Request) -> EventDefinitions:
    """The events of the app's router."""
    return _router_events(getattr(getattr(request.scope.get("app"), "state", None), "router", None))


def _router_events(router: object) -> EventDefinitions:
    """A router's events; the shipped ones for a stand-in that knows none (a test double, say)."""
    events = getattr(router, "definitions", None)
    return events if isinstance(events, EventDefinitions) else shipped_definitions()


def _known_ids(request: Request) -> frozenset[str]:
    """Every municipality and event name ansvar knows: not a citizen's, whatever was asked."""
    router = getattr(request.app.state, "router", None)
    municipalities = router.municipalities() if isinstance(router, Router) else ()
    return frozenset(_events(request)).union(municipalities)


def _unknown(request: Request, exc: UnknownEventError) -> Response:
    # The library's message, which names no value; `value` only if it is some other id ansvar knows.
    value = exc.value if exc.value in _known_ids(request) else None
    return _problem(NotFound(
        type="urn:ansvar:problem:unknown-municipality-or-event",
        title=PROBLEM_TITLES["urn:ansvar:problem:unknown-municipality-or-event"], status=404,
        detail=str(exc), error="UnknownEventError", what=exc.what, value=value, known=list(exc.known)))


class RequestTooLarge(HTTPException):
    """A request body over `MAX_BODY_BYTES`: raised while the body is read, answered as a 413 Problem."""

    def __init__(self) -> None:
        super().__init__(413, f"request body larger than {MAX_BODY_BYTES} bytes")


#: The route template of the request whose response is starting, while uvicorn writes its access line.
_ROUTE_TEMPLATE: ContextVar[str | None] = ContextVar("ansvar_route_template", default=None)
_NO_ROUTE = "(no route)"  # what the access log shows for a path no route matches


class _AccessLogFilter(logging.Filter):
    """uvicorn's access line of this app's requests names the route's template, not the path asked for.

    uvicorn logs `client - "METHOD path?query HTTP/v" status` as the response starts, from within the
    app's call to send it: `_Guard` has set `_ROUTE_TEMPLATE` around that call, so a path segment or query
    value (a CPR number, a name) never reaches the log. A line of some other app is left alone; one of this
    app's whose shape is not uvicorn's known one is dropped rather than risk it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        template = _ROUTE_TEMPLATE.get()
        if template is None:
            return True
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:  # client, method, path, version, status
            record.args = (args[0], args[1], template, args[3], args[4])
            return True
        return False


_ACCESS_LOG = _AccessLogFilter()


def _template(scope: Scope, routes: Any) -> str:  # noqa: ANN401 - Starlette's router
    """The template of the route serving `scope` (`/events/{event}/schema`): never a value of the path."""
    route = scope.get("route")
    if route is None:  # answered before routing (a 413): the route it would have gone to
        route = next((r for r in getattr(routes, "routes", ()) if r.matches(scope)[0] != Match.NONE), None)
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else _NO_ROUTE


class _Guard:
    """Around the app: a bounded request body, and a problem 500 for any exception nothing else handled.

    Starlette's own last resort would answer in plain text and log the exception's message, which may
    carry values; this sits just inside it, so nothing reaches it. The log gets the exception's type and stack
    frames, never its message; it and uvicorn's access line name the route's template, never the path.
    """

    def __init__(self, app: ASGIApp, routes: Any = None) -> None:  # noqa: ANN401 - Starlette's router
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        received = 0

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] != "http.response.start":
                await send(message)
                return
            started = True
            template = _ROUTE_TEMPLATE.set(_template(scope, self.routes))  # for uvicorn's access line
            try:
                await send(message)
            finally:
                _ROUTE_TEMPLATE.reset(template)

        length = dict(scope.get("headers", ())).get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            await _error_response(Request(scope), RequestTooLarge())(scope, receive, watch)
            return

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise RequestTooLarge
            return message

        try:
            await self.app(scope, bounded, watch)
        except Exception as exc:  # noqa: BLE001 - the last resort: every exception, answered and logged
            frames = "".join(traceback.format_tb(exc.__traceback__))
            logger.error("unexpected %s in %s %s (message withheld: may hold situation values)\n%s",  # noqa: TRY400
                         type(exc).__name__, scope.get("method"), _template(scope, self.routes), frames)
            if started:  # too late for a response: end it; re-raising would log the message
                return
            body = Problem(type="about:blank", title=_title(500), status=500,
                           detail="internal error; the server log says where", error="InternalError")
            await _problem(body)(scope, receive, watch)
