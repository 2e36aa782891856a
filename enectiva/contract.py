"""The machine-readable contract (``openapi.yaml``) and helpers to use it."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator

OPENAPI_FILE = "openapi.yaml"
# libyaml's loader parses the contract ~10x faster than the pure-Python one (~1 s of every
# plugin's start-up otherwise); same safe subset of YAML.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@functools.cache
def spec() -> dict[str, Any]:
    """The parsed OpenAPI document (cached; treat as read-only)."""
    text = resources.files("enectiva").joinpath(OPENAPI_FILE).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_YAML_LOADER)


def _resolve(node: Any, root: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen:
                raise ValueError(f"recursive $ref {ref}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return _resolve(merged, root, (*seen, ref))
        return {k: _resolve(v, root, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root, seen) for v in node]
    return node


@functools.cache
def _component(name: str) -> dict[str, Any]:
    root = spec()
    return _resolve(root["components"]["schemas"][name], root)


def component_schema(name: str) -> dict[str, Any]:
    """A component schema with every ``$ref`` inlined (a fresh copy, safe to change)."""
    return copy.deepcopy(_component(name))


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """A compiled JSON Schema 2020-12 validator for a component (format checks on)."""
    return Draft202012Validator(
        _component(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@functools.cache
def fast_check(name: str) -> Callable[[Any], bool]:
    """A quick yes/no for a component: the Rust validator when installed, else the Python one.

    The Python validator stays the authority for *why* something is invalid (its messages);
    this only lets valid input (the hot path of the sandbox and the target) skip it.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - jsonschema-rs is a declared dependency
        return validator(name).is_valid
    rust_is_valid = jsonschema_rs.validator_for(_component(name), validate_formats=True).is_valid

    def is_valid(instance: Any) -> bool:
        try:
            return rust_is_valid(instance)
        except (ValueError, UnicodeError):  # e.g. lone surrogates: let the Python one judge
            return False

    return is_valid


@dataclass(frozen=True)
class Operation:
    """One documented operation."""

    operation_id: str
    method: str
    path: str
    scope: str | None
    token: str  # "import", "login" or "access"
    filter_type: str | None
    statuses: frozenset[str]
    raw: dict[str, Any]

    @property
    def path_regex(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", self.path) + "$")

    def url_path(self, **params: Any) -> str:
        """Fill the path template; values are percent-encoded."""
        from urllib.parse import quote

        return self.path.format(**{k: quote(str(v), safe="") for k, v in params.items()})


@functools.cache
def operations() -> dict[str, Operation]:
    """Every operation of the contract by ``operationId``."""
    out: dict[str, Operation] = {}
    for path, item in spec()["paths"].items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if not op:
                continue
            token = "login" if path == "/access_tokens" else op.get("x-token", "access")
            out[op["operationId"]] = Operation(
                operation_id=op["operationId"],
                method=method.upper(),
                path=path,
                scope=op.get("x-scope"),
                token=token,
                filter_type=op.get("x-filter-type"),
                statuses=frozenset(op["responses"]),
                raw=op,
            )
    return out


def operation(operation_id: str) -> Operation:
    """Look an operation up by id (KeyError names it when unknown)."""
    return operations()[operation_id]


def response_schema_name(operation_id: str, status: int) -> str | None:
    """The component name documented for an answer, or None (e.g. 204)."""
    op = operation(operation_id).raw
    resp = op["responses"].get(str(status))
    if resp is None:
        return None
    if "$ref" in resp:
        resp = _resolve(resp, spec())
        # resolved responses lose the component name; the error document is the only one
        return "ErrorDocument"
    content = resp.get("content", {})
    for media in content.values():
        ref = media.get("schema", {}).get("$ref", "")
        return ref.rsplit("/", 1)[-1] or None
    return None
