"""Match request paths against the contract's path templates.

Routes come from ``enectiva/openapi.yaml`` itself, so the sandbox serves exactly the documented
paths. Matching works on the raw (still percent-encoded) path, one segment at a time, so an
``importId`` holding ``/`` (sent as ``%2F``) stays one segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from enectiva import contract


@dataclass(frozen=True)
class Route:
    operation: contract.Operation
    segments: tuple[str | None, ...]  # a literal, or None for a parameter
    names: tuple[str, ...]  # parameter names in order

    @property
    def literals(self) -> int:
        return sum(s is not None for s in self.segments)


_CACHE_LIMIT = 4096


class Router:
    """Finds the operation and path parameters of a request (recent answers are cached)."""

    def __init__(self, operations: dict[str, contract.Operation] | None = None) -> None:
        ops = contract.operations() if operations is None else operations
        self.routes: dict[int, list[Route]] = {}
        for op in ops.values():
            parts = op.path.strip("/").split("/")
            segments = tuple(None if p.startswith("{") else p for p in parts)
            names = tuple(p[1:-1] for p in parts if p.startswith("{"))
            self.routes.setdefault(len(parts), []).append(Route(op, segments, names))
        for routes in self.routes.values():
            routes.sort(key=lambda r: -r.literals)
        self._cache: dict[tuple[str, str], tuple[contract.Operation | None, dict, bool]] = {}

    def match(self, raw_path: str, method: str) -> tuple[contract.Operation | None, dict, bool]:
        """(operation, path parameters, path known) for a raw path and a method."""
        key = (raw_path, method)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[key] = self._match(raw_path, method)
        op, params, known = found
        return op, dict(params), known  # a copy: callers may change their parameters

    def _match(self, raw_path: str, method: str) -> tuple[contract.Operation | None, dict, bool]:
        parts = raw_path.strip("/").split("/") if raw_path not in ("", "/") else [""]
        path_known = False
        for route in self.routes.get(len(parts), ()):
            values: list[str] = []
            for literal, part in zip(route.segments, parts, strict=True):
                if literal is None:
                    if not part:
                        break
                    values.append(unquote(part))
                elif literal != part:
                    break
            else:
                path_known = True
                if route.operation.method == method:
                    return route.operation, dict(zip(route.names, values, strict=True)), True
        return None, {}, path_known

    def allowed_methods(self, raw_path: str) -> list[str]:
        parts = raw_path.strip("/").split("/")
        out = []
        for route in self.routes.get(len(parts), ()):
            ok = all(
                (literal is None and part) or literal == part
                for literal, part in zip(route.segments, parts, strict=True)
            )
            if ok:
                out.append(route.operation.method)
        return sorted(set(out))
