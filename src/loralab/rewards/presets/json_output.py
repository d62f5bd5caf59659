"""json_valid and json_schema: is the completion JSON, and does it match a JSON schema?

The schema check uses the ``jsonschema`` package when it is installed, else the subset below
(type, enum, const, properties, required, additionalProperties, items, min/max items and
lengths, minimum/maximum).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, field_validator

from loralab.config.strict import StrictModel
from loralab.rewards.answers import section
from loralab.rewards.base import Context, NoParams, RewardPreset, Sample

_FENCE = re.compile(r"```(?:json)?[ \t]*\n(.*?)```", re.DOTALL)
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


class SchemaParams(StrictModel):
    json_schema: dict[str, Any] = Field(
        description="The JSON schema the output must match, e.g. "
        "{'type': 'object', 'required': ['name']}."
    )

    @field_validator("json_schema")
    @classmethod
    def _checkable(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = schema_problem(value)
        if problem:
            raise ValueError(problem)
        return value


def parse_json(text: str, ctx: Context) -> tuple[bool, Any]:
    """``(ok, value)`` of the JSON in the last ```json block, the solution section or the
    whole completion."""
    blocks = _FENCE.findall(text)
    found = section(text, ctx.markers.solution_start, ctx.markers.solution_end)
    candidate = blocks[-1] if blocks else (found if found is not None else text)
    try:
        return True, json.loads(candidate)
    except ValueError:
        return False, None


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a usable JSON schema, or None."""
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:
        bad = [t for t in _types_in(schema) if t not in _TYPES]
        return f"unknown type {bad[0]!r}" if bad else None
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return exc.message
    return None


def _types_in(schema: Any):
    if isinstance(schema, dict):
        kind = schema.get("type")
        yield from ([kind] if isinstance(kind, str) else kind or [])
        for value in schema.values():
            yield from _types_in(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _types_in(value)


def conforms(value: Any, schema: dict[str, Any]) -> bool:
    """Does ``value`` match ``schema``?"""
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:
        return _conforms(value, schema)
    return jsonschema.validators.validator_for(schema)(schema).is_valid(value)


def _is_type(value: Any, kind: str) -> bool:
    if kind in ("number", "integer") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, ()))


def _conforms(value: Any, schema: Any) -> bool:  # noqa: C901 - one check per keyword
    if not isinstance(schema, dict):
        return True
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is_type(value, k) for k in kinds):
            return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(key not in value for key in schema.get("required", [])):
            return False
        for key, item in value.items():
            if key in props:
                if not _conforms(item, props[key]):
                    return False
            elif not _extra_ok(item, schema.get("additionalProperties", True)):
                return False
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 1e18):
            return False
        if isinstance(schema.get("items"), dict) and not all(
            _conforms(v, schema["items"]) for v in value
        ):
            return False
    if isinstance(value, str) and not (
        schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 1e18)
    ):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "maximum" in schema and value > schema["maximum"]:
            return False
    return True


def _extra_ok(item: Any, rule: Any) -> bool:
    if rule is False:
        return False
    return _conforms(item, rule) if isinstance(rule, dict) else True


def score_valid(sample: Sample, params: NoParams, ctx: Context) -> float:
    return float(parse_json(sample.completion, ctx)[0])


def score_schema(sample: Sample, params: SchemaParams, ctx: Context) -> float:
    ok, value = parse_json(sample.completion, ctx)
    if not ok:
        return 0.0
    return 1.0 if conforms(value, params.json_schema) else 0.5


JSON_VALID = RewardPreset(
    name="json_valid",
    title="JSON validity",
    description="1.0 when the output (the last ```json block, else the solution section, else "
    "everything) parses as JSON, else 0.0.",
    score_range=(0.0, 1.0),
    score=score_valid,
    example={"name": "json_valid"},
)

JSON_SCHEMA = RewardPreset(
    name="json_schema",
    title="JSON schema",
    description="1.0 when the output is JSON matching `json_schema`, 0.5 when it is JSON that "
    "does not match, 0.0 when it is not JSON.",
    score_range=(0.0, 1.0),
    params=SchemaParams,
    score=score_schema,
    example={
        "name": "json_schema",
        "params": {"json_schema": {"type": "object", "required": ["name", "age"]}},
    },
)
