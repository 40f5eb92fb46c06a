"""`Session`: defaults (headers, params, auth) shared by several requests, as
in `requests.Session`. Connections are pooled by the host for every request
of a guest, session or not."""

from collections.abc import Mapping
from typing import Any, Optional

from . import adapters
from .models import PreparedRequest, Response, prepare
from .structures import CaseInsensitiveDict

__all__ = ["Session", "DEFAULT_HEADERS", "merged"]

DEFAULT_HEADERS = {"User-Agent": "sandnet-requests/0.1", "Accept": "*/*"}
"""Headers every request carries unless set (`None` removes one)."""

_UNSUPPORTED = {
    "proxies": "the host makes every connection itself; a proxy would be a policy rule",
    "cert": "client certificates are not offered to guests",
    "hooks": "hooks are not supported",
}


def merged(base: Optional[Mapping], extra: Optional[Mapping]) -> Optional[dict]:
    """`extra` over `base` (either may be None)."""
    if not base and not extra:
        return None
    out = dict(base or {})
    out.update(extra or {})
    return out


class Session:
    """Default headers, params and auth for the requests made through it."""

    def __init__(self) -> None:
        self.headers = CaseInsensitiveDict(DEFAULT_HEADERS)
        self.params: dict = {}
        self.auth = None
        self.cookies: dict = {}

    def prepare_request(self, method: str, url: Any, *, headers: Optional[Mapping] = None,
                        params: Any = None, data: Any = None, json: Any = None,
                        files: Any = None, auth: Any = None,
                        cookies: Optional[Mapping] = None) -> PreparedRequest:
        """The request `request()` would send, with this session's defaults."""
        all_headers = CaseInsensitiveDict(self.headers)
        all_headers.update(headers or {})
        jar = merged(self.cookies, cookies)
        if jar and "cookie" not in all_headers:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if isinstance(params, Mapping) or params is None:
            params = merged(self.params, params)
        return prepare(method, url, headers=all_headers, params=params, data=data, json=json,
                       files=files, auth=auth if auth is not None else self.auth)

    def request(self, method: str, url: Any, params: Any = None, data: Any = None,
                headers: Optional[Mapping] = None, cookies: Optional[Mapping] = None,
                files: Any = None, auth: Any = None, timeout: Any = None,
                allow_redirects: bool = True, stream: bool = False, verify: Any = True,
                json: Any = None, **unsupported: Any) -> Response:
        """Sends a request; see the module functions for the arguments."""
        check_supported(verify, unsupported)
        prepared = self.prepare_request(method, url, headers=headers, params=params, data=data,
                                        json=json, files=files, auth=auth, cookies=cookies)
        return adapters.send(prepared, timeout=timeout, allow_redirects=allow_redirects,
                             stream=bool(stream))

    def get(self, url: Any, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def options(self, url: Any, **kwargs: Any) -> Response:
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url: Any, **kwargs: Any) -> Response:
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def post(self, url: Any, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: Any, data: Any = None, **kwargs: Any) -> Response:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: Any, data: Any = None, **kwargs: Any) -> Response:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: Any, **kwargs: Any) -> Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        """Nothing to release: the host owns the connection pool."""

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def check_supported(verify: Any, unsupported: Mapping[str, Any]) -> None:
    """Refuses the `requests` arguments sandnet cannot honour, rather than
    ignoring them silently."""
    if verify is False:
        raise ValueError("verify=False is not supported: the host always verifies TLS; "
                         "trust a private CA with ca_bundle in the policy")
    for name, value in unsupported.items():
        if name in _UNSUPPORTED:
            if value:
                raise ValueError(f"{name}= is not supported: {_UNSUPPORTED[name]}")
        else:
            raise TypeError(f"request() got an unexpected keyword argument {name!r}")
