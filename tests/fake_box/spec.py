"""Box's OpenAPI 3.0 spec as JSON Schema, to validate what the fake answers.

OpenAPI 3.0 schemas are not JSON Schema: ``nullable: true`` is turned into
"or null" here, and everything else is kept. The spec is also stricter than Box
in a few known places; ``_relax`` changes exactly those, each with its reason,
and ``strict=True`` gives the spec untouched (but for ``nullable``) so a test
can show every relaxation is still needed.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:box-openapi"
# The project's shared/ folder sits beside the repository (developers' checkouts and CI alike).
_CANDIDATES = (Path(__file__).resolve().parents[3] / "shared" / "reference" / "box-openapi.json",)
_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_SINGLES = ("items", "additionalProperties", "not")


def spec_path() -> Path | None:
    """BOX_OPENAPI_SPEC if set, else the shared reference beside the repository."""
    override = os.environ.get("BOX_OPENAPI_SPEC")
    if override:
        return Path(override)
    return next((path for path in _CANDIDATES if path.is_file()), None)


@functools.cache
def load_spec() -> dict[str, Any]:
    path = spec_path()
    if path is None:
        raise FileNotFoundError("box-openapi.json not found: set BOX_OPENAPI_SPEC")
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema 2020-12: ``nullable: true`` means "or null"."""
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS:
            converted[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            converted[key] = [to_json_schema(sub) for sub in value]
        elif key in _SCHEMA_SINGLES:
            converted[key] = to_json_schema(value)
        elif key != "nullable":
            converted[key] = value
    if schema.get("nullable") is True:
        return {"anyOf": [{"type": "null"}, converted]}
    return converted


def _relax(schemas: dict[str, Any]) -> None:
    """Where the spec is stricter than Box (see reference/box-api-notes.md). Nothing else."""
    # 1. Box sends "shared_link": null and "classification": null on items that have none. The spec
    #    means them to be nullable too, but writes {"nullable": true} as an allOf member, which
    #    cannot widen its siblings; so as written they are not. (The notes name shared_link on
    #    files; web links and both classifications use the same construct.)
    for name, prop in (
        ("File", "shared_link"),
        ("WebLink", "shared_link"),
        ("File--Full", "classification"),
        ("Folder--Full", "classification"),
    ):
        schemas[name]["allOf"][1]["properties"][prop]["nullable"] = True
    # 2. The shared link's required keys list "accessed"; the property (and Box's key) is "access".
    fixed = 0
    for link in _shared_link_schemas(schemas):
        link["required"] = ["access" if key == "accessed" else key for key in link["required"]]
        fixed += 1
    assert fixed == 3, "the spec changed: review the shared_link relaxation"
    # 3. Event sources: GenericSource accepts any object, so every real source matches it and one
    #    of the specific branches, and "oneOf" (exactly one) can never hold.
    resource = schemas["EventSourceResource"]
    resource["anyOf"] = resource.pop("oneOf")
    # 4. Box's error codes are specific ("access_denied_insufficient_permissions",
    #    "rate_limit_exceeded", ...) while the spec's enum lists generic ones ("forbidden",
    #    "too_many_requests"). The code stays a required-shape string.
    del schemas["ClientError"]["properties"]["code"]["enum"]
    # 5. Box adds enterprise event types before the spec's enum lists them (TRASH, in the notes, is
    #    missing), and the connector must let unknown ones through. The type stays a string.
    event = schemas["Event"]["properties"]
    del event["event_type"]["allOf"][0]["enum"]
    # 6. Events about no object (failed logins, Shield alerts) carry "source": null; the spec's
    #    source is a non-nullable allOf.
    event["source"]["nullable"] = True


def _shared_link_schemas(schemas: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "accessed" in node.get("required", []) and "access" in node.get("properties", {}):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas)
    return found


def _add_webhook_invocation(schemas: dict[str, Any]) -> None:
    """The webhook payload's schema, which this version of the spec does not carry.

    Box's reference publishes it as "Webhook (V2) payload" (``WebhookInvocation``): ``id``,
    ``type: webhook_event``, ``webhook`` (a Webhook), ``created_by`` (a User--Mini),
    ``created_at``, ``trigger`` (a webhook trigger) and ``source`` (a File or a Folder).
    Built here from the spec's own parts; not a relaxation, so strict mode has it too.
    Box also sends ``additional_info``, which the schema leaves open.
    """
    if "WebhookInvocation" in schemas:
        return
    trigger = copy.deepcopy(schemas["Webhook"]["allOf"][1]["properties"]["triggers"]["items"])
    schemas["WebhookInvocation"] = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["webhook_event"]},
            "webhook": {"$ref": "#/components/schemas/Webhook"},
            "created_by": {"$ref": "#/components/schemas/User--Mini"},
            "created_at": {"type": "string", "format": "date-time"},
            "trigger": trigger,
            "source": {
                "oneOf": [{"$ref": "#/components/schemas/File"}, {"$ref": "#/components/schemas/Folder"}]
            },
        },
    }


@functools.cache
def _registry(strict: bool) -> Registry[Any]:
    schemas = copy.deepcopy(load_spec()["components"]["schemas"])
    _add_webhook_invocation(schemas)
    if not strict:
        _relax(schemas)
    document = {"components": {"schemas": {name: to_json_schema(s) for name, s in schemas.items()}}}
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(document))
    return registry


@functools.cache
def validator(schema_name: str, *, strict: bool = False) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"},
        registry=_registry(strict),
        format_checker=FormatChecker(),
    )


def response_schema(path: str, method: str, status: int) -> str:
    """The component schema the spec names for this operation's answer (its "default" if unlisted)."""
    responses = load_spec()["paths"][path][method.lower()]["responses"]
    response = responses.get(str(status)) or responses["default"]
    ref: str = response["content"]["application/json"]["schema"]["$ref"]
    return ref.rpartition("/")[2]


def violations(instance: Any, schema_name: str, *, strict: bool = False) -> list[str]:
    errors = validator(schema_name, strict=strict).iter_errors(instance)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message[:300]}" for error in errors
    ]
