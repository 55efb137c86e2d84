"""Metaflow validation (reference 1.6 and 5): the node, its module's `data` and every child,
with errors in kz_json_schema's shape keyed by dotted path."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft4Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from . import errors
from .metaflow_schemas import MODULES, NODE

_NODE = Draft4Validator(NODE)
_MODULES = {name: Draft4Validator(schema) for name, schema in MODULES.items()}


def _message(err: ValidationError) -> tuple[str, dict[str, Any]]:
    """kz_json_schema's rule name and message for one jsonschema error."""
    rule, value = err.validator, err.validator_value
    if rule == "required":
        return "required", {"message": errors.REQUIRED}
    if rule == "enum":
        return "enum", {"message": "Value not found in enumerated list of values",
                        "target": value}
    if rule == "type":
        types = value if isinstance(value, list) else [value]
        return "type", {"message": "Value did not match type(s): "
                        + ", ".join(types), "target": types}
    if rule == "minLength":
        return "minLength", {"message": f"String must be at least {value} characters",
                             "target": value}
    if rule == "maxLength":
        return "maxLength", {"message": f"String must not be more than {value} characters",
                             "target": value}
    if rule == "minimum":
        return "minimum", {"message": f"Value must be at least {value}", "target": value}
    if rule == "maximum":
        return "maximum", {"message": f"Value must be at most {value}", "target": value}
    if rule == "pattern":
        return "pattern", {"message": f"Failed to match pattern '{value}'", "target": value}
    return str(rule), {"message": err.message[:200]}


def _collect(validator: Draft4Validator, value: Any, prefix: str,
             out: dict[str, dict[str, Any]]) -> None:
    for err in validator.iter_errors(value):
        path = [str(p) for p in err.absolute_path]
        if err.validator == "required":
            missing = next((k for k in err.validator_value
                            if isinstance(err.instance, dict) and k not in err.instance), "")
            path.append(str(missing))
        key = ".".join(p for p in (prefix, *path) if p)
        rule, detail = _message(err)
        out.setdefault(key or "data", {})[rule] = detail


def _validate_node(node: Any, prefix: str, out: dict[str, dict[str, Any]]) -> None:
    before = len(out)
    _collect(_NODE, node, prefix, out)
    if len(out) != before or not isinstance(node, dict):
        return
    module = node["module"]
    validator = _MODULES.get(module)
    key = f"{prefix}.module" if prefix else "module"
    if validator is None:
        out[key] = {"invalid": {
            "message": f"unable to find metaflow schema for module {module}"[:120]}}
        return
    _collect(validator, node.get("data", {}), f"{prefix}.data" if prefix else "data", out)
    for digit, child in (node.get("children") or {}).items():
        _validate_node(child, f"{prefix}.children.{digit}" if prefix else f"children.{digit}",
                       out)


def validate(flow: Any) -> dict[str, Any]:
    """The validated metaflow node, or a 400 `validation error` with every failure."""
    out: dict[str, dict[str, Any]] = {}
    _validate_node(flow, "", out)
    if out:
        raise errors.validation_errors(out)
    return flow


def unwrap(data: Any) -> Any:
    """The metaflow node from either PUT shape: the real `{"data": {"module": ...}}` or the
    documented `{"data": {"data": {"module": ...}}}`."""
    if (isinstance(data, dict) and "module" not in data and isinstance(data.get("data"), dict)
            and "module" in data["data"]):
        return data["data"]
    return data
