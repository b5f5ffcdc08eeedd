"""Hostile HTTP input on every route: path ids, query parameters, form fields and JSON
bodies with NUL, control characters, huge numbers, very long strings, wrong types,
deep nesting and bytes that are not UTF-8. Each answer is a 4xx (problem details on
the API, a readable page for people) or a success, never a 500.

The routes are read from the app, so a route added later is swept the day it exists.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.web.access_routes import api_routes
from tests.web.conftest import Site

#: Values for path ids, query parameters and form fields.
TEXTS = [
    "a\x00b",
    "\x1b[2J",
    "9" * 400,
    "-99999999999999999999",
    "1e400",
    "nan",
    "x" * 20_000,
    "../../etc/passwd",
    "%00",
]
#: JSON bodies: wrong types, nesting and sizes.
BODIES: list[Any] = [
    None,
    [],
    "text",
    10**400,
    {"": "\x00"},
]
#: A body no JSON parser should recurse through: 100,000 nested lists.
DEEP = b"[" * 100_000 + b"]" * 100_000
NOT_UTF8 = b'{"name": "\xff\xfe"}'


def _fields(route: APIRoute) -> tuple[list[str], list[str]]:
    """The route's query parameter names and body field names."""
    dependant = route.dependant
    query = [p.alias for p in dependant.query_params]
    body: list[str] = []
    for param in dependant.body_params:
        annotation = getattr(param.field_info, "annotation", None)
        model_fields = getattr(annotation, "model_fields", None)
        body.extend(model_fields or [param.alias])
    return query, body


def _check(response: Any, what: str, failures: list[str]) -> None:
    if response.status_code >= 500:
        failures.append(f"{what}: {response.status_code} {response.text[:200]}")
    elif response.status_code >= 400 and response.request.url.path.startswith("/api/"):
        kind = response.headers.get("content-type", "")
        if not kind.startswith("application/problem+json"):
            failures.append(f"{what}: {response.status_code} as {kind}")


def _send(client: TestClient, method: str, url: str, **kw: Any) -> Any:
    return client.request(method, url, follow_redirects=False, **kw)


@pytest.mark.slow
def test_no_hostile_input_reaches_a_500(site: Site) -> None:
    clients = {"staff": site.client("admin"), "partner api": site.api("a_admin")}
    failures: list[str] = []
    routes = [
        (path, method, route)
        for path, methods, route in api_routes(site.app)
        for method in sorted(methods - {"HEAD"})
    ]
    assert len(routes) > 40, "the sweep found too few routes to mean anything"
    for path, method, route in routes:
        for who, client in clients.items():
            sweep(client, who, path, method, route, failures)
    assert failures == []


def sweep(
    client: TestClient, who: str, path: str, method: str, route: APIRoute, failures: list[str]
) -> None:
    query, body = _fields(route)
    csrf = getattr(client, "csrf", "")
    for value in TEXTS:
        url = path
        for name in route.param_convertors:
            url = url.replace(f"{{{name}}}", quote(value, safe=""))
        params = {name: value for name in query}
        what = f"{who} {method} {path} with {value[:20]!r}"
        if method == "GET":
            _check(_send(client, method, url, params=params), what, failures)
            continue
        form = {name: value for name in body} | {"csrf": csrf}
        _check(_send(client, method, url, params=params, data=form), what + " (form)", failures)
        document = {name: value for name in body}
        _check(_send(client, method, url, params=params, json=document), what + " (json)", failures)
    if method == "GET":
        return
    url = path
    for name in route.param_convertors:
        url = url.replace(f"{{{name}}}", "1")
    headers = {"content-type": "application/json", "x-csrf-token": csrf}
    for raw in [json.dumps(document).encode() for document in BODIES] + [DEEP, NOT_UTF8]:
        response = _send(client, method, url, content=raw, headers=headers)
        _check(response, f"{who} {method} {path} with body {raw[:20]!r}", failures)
