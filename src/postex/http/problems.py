"""RFC 9457 problem responses: one table from error class to HTTP status.

Routes never raise HTTP exceptions for domain conditions; they let the domain's errors
through and this module turns them into ``application/problem+json``. A 500 shows no
internals, only a correlation id that is also in the log.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from postex.accounts.http import Gate, bearer_scheme, principal
from postex.http.deps import context
from postex.kernel import errors as e
from postex.kernel import text as text_policy
from postex.kernel.errors import FieldError, PostexError, ValidationError

log = logging.getLogger("postex.http")
PROBLEM = "application/problem+json"
TYPE_BASE = "https://postex.dev/problems/"
FASTAPI_BODY_ERROR = "There was an error parsing the body"  # FastAPI's 400 for undecodable bodies

# Most specific first: the first matching class wins.
STATUS: list[tuple[type[PostexError], int]] = [
    (e.ValidationError, 422),
    (e.NotFoundError, 404),
    (e.HeldError, 409),
    (e.InvalidStateError, 409),
    (e.ConflictError, 409),
    (e.UnauthenticatedError, 401),
    (e.ForbiddenError, 403),
    (e.RateLimitedError, 429),
    (e.PayloadTooLargeError, 413),
    (e.IntegrityError, 500),
    (e.KeyUnavailableError, 503),
    (e.StoreUnreachableError, 503),
    (e.ConfigurationError, 500),
]


def status_for(exc: PostexError) -> int:
    return next((status for cls, status in STATUS if isinstance(exc, cls)), 400)


def where(exc: BaseException) -> str:
    """An exception for the log without its message or any value: class names and the
    frames they were raised in. Messages may quote request input (a validation error's
    text lists the values it refused: names, addresses, phone numbers), so none is logged.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 5:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)[-6:]
        trail = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames)
        parts.append(f"{type(current).__name__} at {trail or '?'}")
        current = current.__cause__ or current.__context__
    return "; caused by ".join(parts)


def _safe(value: Any, depth: int = 0) -> Any:
    """A problem body any UTF-8 response can carry: lone surrogates become U+FFFD."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if depth > 6:
        return None
    if isinstance(value, dict):
        return {_safe(k, depth + 1): _safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v, depth + 1) for v in value]
    return value


_SURROGATES = re.compile("[\ud800-\udfff]")


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    body = _safe({**body, "status": status})
    if not str(body.get("type", "")).startswith(("http", "about:")):
        body["type"] = TYPE_BASE + str(body.get("type", "error"))
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def postex_problem(request: Request, exc: PostexError) -> JSONResponse:
    status = status_for(exc)
    body = exc.to_problem()
    body["instance"] = request.url.path
    headers = {}
    if isinstance(exc, e.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, e.UnauthenticatedError):
        headers["WWW-Authenticate"] = 'Bearer realm="postex"'
    if status >= 500:
        cid = uuid.uuid4().hex
        log.error("server error %s: %s (%s)", cid, exc.code, type(exc).__name__)
        body = {"type": exc.code, "title": exc.title, "detail": f"correlation id {cid}"}
    return problem_response(status, body, headers)


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = loc[0] if loc else "body"
        rule = str(err.get("type", "invalid"))
        if rule == "json_invalid":
            loc = loc[:1]  # its second element is the character offset, not a field
        path = ".".join(loc[1:]) if len(loc) > 1 else where
        value = err.get("input")
        if isinstance(value, dict | list):
            value = None  # the whole object: naming the field is enough
        message = str(err.get("msg", "invalid value"))
        extra: dict[str, str] = {}
        if rule == "string_unicode":  # a lone surrogate: the text policy's own rule name
            bad = text_policy.forbidden(value, xml=True) if isinstance(value, str) else None
            rule, message = text_policy.RULE, "a lone surrogate is not a character"
            extra = {"character": text_policy.code_point(bad)} if bad else {}
        out.append(FieldError(path, rule, value, message, extra=extra))
    return out or [FieldError("body", "invalid", None, "the request is not valid")]


def _needs_principal(dependant: Dependant) -> bool:
    return any(d.call is principal or _needs_principal(d) for d in dependant.dependencies)


def _gates(dependant: Dependant) -> list[Gate]:
    """The route's :class:`Gate` dependencies, however deep."""
    found: list[Gate] = []
    for d in dependant.dependencies:
        if isinstance(d.call, Gate):
            found.append(d.call)
        found.extend(_gates(d))
    return found


async def _refused(request: Request) -> JSONResponse | None:
    """The 401 or 403 of a route, if the caller may not use it at all; else None.

    FastAPI decodes a JSON body before it runs any dependency, and a dependency may refuse
    a query parameter before the one that checks the caller has run, so input would
    otherwise be described (422) to a caller without a valid key (401) or of a kind or
    role the route is not for (403). Who is calling comes first.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not _needs_principal(route.dependant):
        return None
    creds = await bearer_scheme(request)
    try:
        p = await run_in_threadpool(principal, request, creds, context(request))
        for gate in _gates(route.dependant):
            gate.check(p)
    except (e.UnauthenticatedError, e.ForbiddenError) as exc:
        return postex_problem(request, exc)
    return None


async def _invalid_input(request: Request, exc: ValidationError) -> JSONResponse:
    refused = await _refused(request)
    return refused if refused is not None else postex_problem(request, exc)


def install(app: FastAPI) -> None:
    @app.exception_handler(PostexError)
    async def _postex(request: Request, exc: PostexError) -> JSONResponse:
        if isinstance(exc, ValidationError):
            return await _invalid_input(request, exc)
        return postex_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await _invalid_input(request, ValidationError(_field_errors(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, e.PayloadTooLargeError):
            # FastAPI reads JSON bodies itself and turns BodySizeLimit's error into a 400:
            # a body over the limit (chunked, without Content-Length) is still a 413.
            return postex_problem(request, exc.__cause__)
        if exc.status_code == 400 and exc.detail == FASTAPI_BODY_ERROR:
            # A JSON body that is not even UTF-8: bad input like any other JSON error.
            return await _invalid_input(request, ValidationError.single(
                "body", "json_invalid", None, "the body is not UTF-8 JSON"))  # fmt: skip
        titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}
        return problem_response(
            exc.status_code,
            {
                "type": "http-" + str(exc.status_code),
                "title": titles.get(exc.status_code, "HTTP error"),
                "detail": str(exc.detail),
                "instance": request.url.path,
            },
            headers=dict(exc.headers or {}),
        )

    app.add_middleware(CrashGuard)


class CrashGuard:
    """ASGI middleware: an unexpected exception becomes a 500 problem with a correlation id,
    logged as :func:`where` says (class names and frames, never a message), and is not
    raised further, so no server (uvicorn's "Exception in ASGI application") logs its text
    with the request input it may quote.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except e.PayloadTooLargeError:
            raise  # BodySizeLimit, outside, answers it
        except Exception as exc:
            cid = uuid.uuid4().hex
            path = str(scope.get("path", ""))[:200]
            log.error("unhandled error %s on %s %s: %s", cid, scope.get("method"), path, where(exc))
            if started:
                return  # the answer is under way; the client sees a cut response
            response = problem_response(
                500,
                {"type": "internal-error", "title": "Internal error",
                 "detail": f"correlation id {cid}"},
            )  # fmt: skip
            await response(scope, receive, send)
