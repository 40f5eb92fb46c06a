"""`requests`, by shape, over `sandnet:net/http`: swap `import requests` for
`from sandnet import requests` and the usual calls work, each one checked by
the host against the guest's policy.

    from sandnet import requests

    r = requests.get("https://api.example.com/items", params={"page": 2}, timeout=5)
    r.raise_for_status()
    for item in r.json():
        print(item["name"])

    try:
        requests.post("https://elsewhere.example/", json={"a": 1})
    except requests.exceptions.PolicyDenied as e:   # a ConnectionError
        print(e)               # the denial and "hint: add to the policy's allow list: ..."

The subset: `request/get/post/put/patch/delete/head/options` with `params=`,
`data=`, `json=`, `headers=`, `files=`, `auth=(user, password)`, `cookies=`,
`timeout=` (seconds or (connect, read)), `allow_redirects=`, `stream=`;
`Session`; `Response` with `status_code`, `ok`, `reason`, case-insensitive
`headers`, `url`, `text`, `content`, `json()`, `raise_for_status()`,
`iter_content()`, `iter_lines()`, `elapsed`; the exception tree under
`requests.exceptions`. Differences: redirects are followed by the host
(`history` stays empty), TLS is always verified (`verify=False` and
`proxies=` raise), and the policy's limits (body size, total timeout) apply.
"""

from typing import Any

from . import exceptions
from .exceptions import (ConnectionError, ConnectTimeout, HTTPError, JSONDecodeError,
                         PolicyDenied, ReadTimeout, RequestException, Timeout,
                         TooManyRedirects)
from .models import PreparedRequest, Response
from .sessions import Session
from .structures import CaseInsensitiveDict

__all__ = [
    "request", "get", "post", "put", "patch", "delete", "head", "options", "Session",
    "Response", "PreparedRequest", "CaseInsensitiveDict", "exceptions", "RequestException",
    "HTTPError", "ConnectionError", "PolicyDenied", "Timeout", "ConnectTimeout",
    "ReadTimeout", "TooManyRedirects", "JSONDecodeError",
]


def request(method: str, url: Any, **kwargs: Any) -> Response:
    """Sends one request; keyword arguments as `Session.request`."""
    with Session() as session:
        return session.request(method, url, **kwargs)


def get(url: Any, params: Any = None, **kwargs: Any) -> Response:
    return request("GET", url, params=params, **kwargs)


def options(url: Any, **kwargs: Any) -> Response:
    return request("OPTIONS", url, **kwargs)


def head(url: Any, **kwargs: Any) -> Response:
    kwargs.setdefault("allow_redirects", False)
    return request("HEAD", url, **kwargs)


def post(url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
    return request("POST", url, data=data, json=json, **kwargs)


def put(url: Any, data: Any = None, **kwargs: Any) -> Response:
    return request("PUT", url, data=data, **kwargs)


def patch(url: Any, data: Any = None, **kwargs: Any) -> Response:
    return request("PATCH", url, data=data, **kwargs)


def delete(url: Any, **kwargs: Any) -> Response:
    return request("DELETE", url, **kwargs)
