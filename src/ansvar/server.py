"""ansvar over HTTP: route situations, list events, serve their schemas (extra `ansvar[server]`).

`create_app(router)` builds the FastAPI application; `serve(host, port, rule_dirs)` runs it on uvicorn, as
`ansvar serve` does. The OpenAPI document is generated from the same pydantic models the library uses: the
request body of `POST /route` is the discriminated union `ansvar.Situation`, the response `ansvar.Decision`.

Situations are health data. No request body and no situation value is logged (uvicorn's access log shows
method, path and status), and no error response echoes an input value: a situation that does not validate
is a 422 listing only each problem's `loc`, `msg` and `type`. Unexpected failures are a 500 with a fixed
message; the log gets the exception's type and stack frames, never its message.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import traceback
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any, Literal

import uvicorn
from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Example
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import ansvar
from ansvar.decision import Decision
from ansvar.errors import (
    ConflictError,
    EngineError,
    NoResponsibleError,
    RoutingError,
    SituationError,
    UnknownEventError,
    is_id,
)
from ansvar.router import Router
from ansvar.situation import MODELS, Situation, SituationBase

if TYPE_CHECKING:
    AnySituation = SituationBase  # what an endpoint receives: one event's validated model
else:
    AnySituation = Situation  # what FastAPI validates against and OpenAPI shows: the union, by `event`

MAX_SITUATIONS = 1000  # situations in one POST /route-many
MAX_BODY_BYTES = 4 * 1024 * 1024  # a full batch of situations fits with room to spare

#: The shape of every id ansvar knows; a CPR number or a name never has it (as ansvar.errors quotes ids).

logger = logging.getLogger("ansvar.server")


class FieldError(BaseModel):
    """One reason a request does not validate: where, what, and its kind; never the value sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loc: list[str | int] = Field(description="where: `body`, `query` or `path`, then the field's path")
    msg: str = Field(description="what is wrong, in English")
    type: str = Field(description="the kind of problem, e.g. `bool_type`, `extra_forbidden`, `missing`")


class InvalidRequest(BaseModel):
    """A request that does not validate (HTTP 422): every problem found, without the values sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detail: list[FieldError]


class Problem(BaseModel):
    """An error that is not the request's fields: its kind (the ansvar error's name) and a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    error: str = Field(description="e.g. RoutingError, ConflictError, NoResponsibleError, EngineError")
    detail: str = Field(description="what went wrong, in English")


class NotFound(Problem):
    """An unknown municipality or event (HTTP 404), with the known ones."""

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


_INVALID: dict[int | str, dict[str, Any]] = {422: {"model": InvalidRequest, "description": "Invalid request"}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": NotFound,
                                                     "description": "Unknown municipality or event"}}
# Starlette matches no route for a path holding a line break: its 404 is a plain Problem.
_NO_EVENT: dict[int | str, dict[str, Any]] = {404: {
    "model": NotFound | Problem,
    "description": "Unknown event (NotFound); or a name no route matches, e.g. with a line break (Problem)"}}
_ROUTING: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "No answer on that date: a rule pack is not in force yet "
                                           "(RoutingError)"},
    413: {"model": Problem, "description": "Request body too large"},
}
_FAILURE: dict[int | str, dict[str, Any]] = {
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

#: Errors of a valid request: status and message label (first match wins: subclasses first).
_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (ConflictError, 500, "rule pack defect: "),
    (NoResponsibleError, 500, "rule pack defect: "),
    (RoutingError, 409, ""),
    (EngineError, 500, "engine failure: "),
)

OnQuery = Annotated[dt.date | None, Query(
    description="The date to answer for (YYYY-MM-DD, default today): picks rule versions and deadlines")]


def create_app(router: Router | None = None) -> FastAPI:
    """The HTTP application over `router` (default: `ansvar.default_router()`, the shipped packs)."""
    routes = router if router is not None else ansvar.default_router()
    version = _version()
    app = FastAPI(
        title="ansvar",
        version=version,
        summary="Who is responsible, and what happens next?",
        description="Routes a citizen's situation in Danish municipal substance-abuse treatment to the "
                    "responsible actor, with the next steps, deadlines, warnings, the guide passages behind "
                    "every conclusion, and a trace of the rules that fired. Texts for caseworkers are "
                    "Danish; identifiers and errors English.",
        responses=_FAILURE,
    )

    @app.post("/route", response_model=Decision, responses=_INVALID | _NOT_FOUND | _ROUTING,
              summary="Route one situation", tags=["routing"])
    def route(situation: Annotated[AnySituation, Body(
            description="One citizen situation; `event` picks its model", openapi_examples=_EXAMPLES,
            discriminator="event")],  # older FastAPI keeps only this FieldInfo, not the one in Situation
            on: OnQuery = None) -> Decision:
        """Who is responsible for this situation, and what happens next, on date `on`."""
        return routes.route(situation, on=on)

    @app.post("/route-many", response_model=list[Decision], responses=_INVALID | _NOT_FOUND | _ROUTING,
              summary="Route many situations", tags=["routing"])
    def route_many(situations: Annotated[list[AnySituation], Body(
            max_length=MAX_SITUATIONS, description=f"Situations to route, at most {MAX_SITUATIONS}",
            openapi_examples=_MANY_EXAMPLES)], on: OnQuery = None) -> list[Decision]:
        """One Decision per situation, in the same order; one bad situation fails the whole request."""
        return routes.route_many(situations, on=on)

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
        """The JSON Schema of the facts a situation of `event` may carry (`ansvar.situation_schema`)."""
        return ansvar.situation_schema(event)

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
    router = Router(rule_dirs) if rule_dirs is not None else ansvar.default_router()
    uvicorn.run(create_app(router), host=host, port=port)


def _version() -> str:
    try:
        return importlib.metadata.version("ansvar")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`loc`, `msg` and `type` of each error; the union's event tag dropped from `loc` as the library does."""
    found = []
    for error in errors:
        loc = list(error.get("loc", ()))
        at = 2 if len(loc) > 1 and isinstance(loc[1], int) else 1  # a list item's index comes first
        if loc[:1] == ["body"] and len(loc) > at + 1 and loc[at] in MODELS:
            del loc[at]
        loc = [p if isinstance(p, int) or is_id(p) else "(no id)" for p in loc]  # a key may be a CPR number
        found.append({"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))})
    if not found:
        found.append({"loc": [], "msg": "invalid request", "type": "invalid"})
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


def _error_response(_request: Request, exc: Exception) -> JSONResponse:
    """The response to each error the endpoints and FastAPI raise on purpose."""
    if isinstance(exc, RequestValidationError):
        return _invalid_request(exc)
    if isinstance(exc, SituationError):
        return _invalid_situation(exc)
    if isinstance(exc, UnknownEventError):
        return _unknown(exc)
    for kind, status, label in _STATUS:
        if isinstance(exc, kind):
            body = Problem(error=type(exc).__name__, detail=f"{label}{exc}")
            return JSONResponse(status_code=status, content=body.model_dump())
    if isinstance(exc, HTTPException) and exc.status_code == HTTPStatus.BAD_REQUEST:
        # FastAPI's one 400: a body it could not read as JSON (not UTF-8, say): as invalid as broken JSON.
        error = {"loc": ("body",), "msg": "the body is not JSON in UTF-8", "type": "json_invalid"}
        return JSONResponse(status_code=422, content={"detail": _field_errors([error])})
    if isinstance(exc, HTTPException):  # Starlette's own: unknown URL or method, body too large
        body = Problem(error=type(exc).__name__, detail=str(exc.detail))
        return JSONResponse(status_code=exc.status_code, content=body.model_dump(), headers=exc.headers)
    raise exc  # registered for the classes above only


def _invalid_request(exc: RequestValidationError) -> JSONResponse:
    """422 without the input values; an event the contract does not know is a 404, as in the library."""
    errors = list(exc.errors())
    for error in errors:
        if error.get("type") != "union_tag_invalid":
            continue
        event = _event_of(exc.body, error.get("loc", ()))
        if isinstance(event, str):
            return _unknown(UnknownEventError("event", event, MODELS))
        error.update(loc=(*error.get("loc", ()), "event"), type="event",
                     msg=f"must be a string; known events: {', '.join(sorted(MODELS))}")
    return JSONResponse(status_code=422, content={"detail": _field_errors(errors)})


def _invalid_situation(exc: SituationError) -> JSONResponse:
    # Raised by the router after the body validated: only `on` is left to check (its range).
    errors = [{**e, "loc": ("query", *e["loc"]) if tuple(e["loc"][:1]) == ("on",) else ("body", *e["loc"])}
              for e in exc.errors]
    return JSONResponse(status_code=422, content={"detail": _field_errors(errors)})


def _unknown(exc: UnknownEventError) -> JSONResponse:
    value = exc.value if is_id(exc.value) else None
    named = repr(value) if value is not None else "(a value that is no id)"
    known = ", ".join(exc.known) or "(none)"
    body = NotFound(error=type(exc).__name__, detail=f"unknown {exc.what} {named}; known: {known}",
                    what=exc.what, value=value, known=list(exc.known))
    return JSONResponse(status_code=404, content=body.model_dump())


class RequestTooLarge(HTTPException):
    """A request body over `MAX_BODY_BYTES`: raised while the body is read, answered as a 413 Problem."""

    def __init__(self) -> None:
        super().__init__(413, f"request body larger than {MAX_BODY_BYTES} bytes")


class _Guard:
    """Around the app: a bounded request body, and a JSON 500 for any exception nothing else handled.

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
            body = Problem(error="InternalError", detail="internal error; the server log says where")
            await JSONResponse(status_code=500, content=body.model_dump())(scope, receive, send)
