"""The client's transport and answer check, standard library only.

Copied from scripts/clients/templates/_runtime.py by `npm run clients`; edit it there.
"""
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Mapping, Optional

from ._shapes import SHAPES
from .models import Error


class ResponseMismatch(Exception):
    """The server answered what its OpenAPI document does not describe (status or body)."""


class ApiError(Exception):
    """An error answer of the API: its HTTP status and the document's `Error` body.

    `code` is the stable error code (RT_ERR_...), `field` the input at fault for a 400.
    """

    def __init__(self, status: int, error: Error):
        self.status = status
        self.error = error
        self.code: str = error.code.value
        self.message: str = error.message
        self.field: Optional[str] = error.field
        where = f" (field {self.field})" if self.field else ""
        super().__init__(f"{status} {self.code}: {self.message}{where}")


_TYPES = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def problem(value: Any, schema: Mapping[str, Any], at: str = "$") -> Optional[str]:
    """What is wrong with `value` for `schema` (a reduced schema of SHAPES), or None."""
    if "$ref" in schema:
        return problem(value, SHAPES[schema["$ref"]], at)
    if "anyOf" in schema:
        found = [problem(value, member, at) for member in schema["anyOf"]]
        if all(found):
            return found[0] if len(found) == 1 else f"{at}: matches no member of anyOf: {found}"
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_TYPES[kind](value) for kind in kinds):
            return f"{at}: expected {'/'.join(kinds)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{at}: {value!r} is not one of {schema['enum']}"
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                return f"{at}: missing required key {key!r}"
        extra = schema.get("additionalProperties", True)
        for key, child in value.items():
            if key in properties:
                found_one = problem(child, properties[key], f"{at}.{key}")
            elif extra is False:
                return f"{at}: unknown key {key!r}"
            elif isinstance(extra, dict):
                found_one = problem(child, extra, f"{at}.{key}")
            else:
                continue
            if found_one:
                return found_one
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found_one = problem(item, schema["items"], f"{at}[{index}]")
            if found_one:
                return found_one
    return None


def segment(value: str) -> str:
    """One path segment, percent-encoded (`/` included)."""
    return urllib.parse.quote(str(value), safe="")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Transport:
    """Sends one call and checks its answer against the document."""

    def __init__(
        self,
        base_url: str,
        api_key: Optional[str],
        timeout: float,
        headers: Optional[Mapping[str, str]],
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers: Dict[str, str] = {"accept": "application/json", **(headers or {})}
        if api_key:
            self.headers["authorization"] = f"Bearer {api_key}"

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        query: Optional[Mapping[str, Any]],
        body: Any,
        expect: int,
        shape: Optional[Mapping[str, Any]],
    ) -> Any:
        """The answer's JSON (checked against `shape`), or None when `shape` is None.

        Raises ApiError for an error answer, ResponseMismatch for one the document does not
        describe (another status, or a body that does not match).
        """
        pairs = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        url = self.base_url + path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")
        headers = dict(self.headers)
        data = None
        if body is not None:
            payload = body.to_dict() if hasattr(body, "to_dict") else body
            data = json.dumps(payload).encode("utf-8")
            headers["content-type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        if status >= 400:
            value = self._json(operation, status, raw)
            found = problem(value, {"$ref": "Error"})
            if found:
                raise ResponseMismatch(f"{operation}: error answer {status}: {found}")
            raise ApiError(status, Error.from_dict(value))
        if status != expect:
            raise ResponseMismatch(f"{operation}: status {status}, the document says {expect}")
        if shape is None:
            return None
        value = self._json(operation, status, raw)
        found = problem(value, shape)
        if found:
            raise ResponseMismatch(f"{operation}: {found}")
        return value

    @staticmethod
    def _json(operation: str, status: int, raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError as error:
            raise ResponseMismatch(f"{operation}: status {status} without a JSON body") from error
