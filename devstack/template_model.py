"""template.yaml read into typed descriptions: functions, routes, schedules, queues' consumers, resources.

Only what the local stack acts on is modelled. Values that may hold intrinsics
(environment, queue references, schedule expressions) stay raw here and are
resolved by the stack once the local resources exist.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from samtranslator.yaml_helper import yaml_parse

log = logging.getLogger(__name__)

FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
HTTP_API = "AWS::Serverless::HttpApi"
# SAM's name for the HttpApi it creates when an HttpApi event names no ApiId.
IMPLICIT_HTTP_API = "ServerlessHttpApi"
# Lambda's default for asynchronous invocations without an EventInvokeConfig.
DEFAULT_ASYNC_RETRIES = 2

Auth = Literal["NONE", "AWS_IAM"]


class TemplateError(ValueError):
    """template.yaml holds something the local stack cannot serve faithfully."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str | None


@dataclass(frozen=True)
class Layer:
    logical_id: str
    # The directory that plays /opt/python: where `import <package>` must find the layer's code
    # (None for a layer of data built by a Makefile: devstack.data_layers lays it out).
    python_dir: Path | None
    content_dir: Path
    build_method: str


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler_module: str  # "app" for Handler "app.lambda_handler"
    handler_name: str  # "lambda_handler"
    timeout_seconds: int
    memory_mb: int
    environment: Mapping[str, Any]  # Globals merged with the function's own Variables, unresolved
    layer_refs: tuple[Any, ...]  # unresolved, usually {"Ref": "<LayerLogicalId>"}
    function_name: Any | None  # FunctionName property if set (unresolved); else the logical id names it
    max_async_retries: int

    @property
    def handler_file(self) -> Path:
        return self.code_dir.joinpath(*self.handler_module.split(".")).with_suffix(".py")


@dataclass(frozen=True)
class Route:
    function_id: str
    event_name: str
    api_id: str
    method: str  # upper case; "ANY" matches every method
    path: str  # "/connections/{connection_id}" or "$default"
    auth: Auth

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class Schedule:
    function_id: str
    event_name: str
    kind: Literal["Schedule", "ScheduleV2"]
    expression: Any  # unresolved
    input: Any | None  # unresolved; a JSON string when set
    enabled: bool
    name: str  # the rule/schedule name SAM would give it, for the event's resources ARN


@dataclass(frozen=True)
class SqsSource:
    function_id: str
    event_name: str
    queue: Any  # unresolved, usually {"Fn::GetAtt": ["Queue", "Arn"]}
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    condition: str | None


@dataclass(frozen=True)
class HttpApi:
    logical_id: str
    default_authorizer: str | None


@dataclass(frozen=True)
class Template:
    path: Path
    parameters: Mapping[str, Parameter]
    conditions: Mapping[str, Any]
    mappings: Mapping[str, Any]
    functions: Mapping[str, Function]
    layers: Mapping[str, Layer]
    http_apis: Mapping[str, HttpApi]
    routes: tuple[Route, ...]
    schedules: tuple[Schedule, ...]
    sqs_sources: tuple[SqsSource, ...]
    resources: Mapping[str, Resource]  # everything that is not a function, layer or HttpApi


def load_template(path: str | Path) -> Template:
    path = Path(path).resolve()
    document = yaml_parse(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    base = path.parent
    globals_ = document.get("Globals") or {}
    function_globals = globals_.get("Function") or {}
    api_globals = globals_.get("HttpApi") or {}

    parameters = {
        name: Parameter(name, str(spec.get("Type", "String")), _default(spec.get("Default")))
        for name, spec in (document.get("Parameters") or {}).items()
    }
    functions: dict[str, Function] = {}
    layers: dict[str, Layer] = {}
    http_apis: dict[str, HttpApi] = {}
    resources: dict[str, Resource] = {}
    events: dict[str, Mapping[str, Any]] = {}
    for logical_id, spec in document["Resources"].items():
        kind = spec.get("Type")
        properties = spec.get("Properties") or {}
        if kind in (FUNCTION, LAYER, HTTP_API) and "Condition" in spec:
            raise TemplateError(f"{logical_id}: a Condition on a {kind} is not supported locally")
        if kind == FUNCTION:
            merged = merge_globals(function_globals, properties)
            functions[logical_id] = _function(logical_id, merged, base)
            events[logical_id] = merged.get("Events") or {}
        elif kind == LAYER:
            layers[logical_id] = _layer(logical_id, properties, spec.get("Metadata") or {}, base)
        elif kind == HTTP_API:
            http_apis[logical_id] = _http_api(logical_id, merge_globals(api_globals, properties))
        else:
            resources[logical_id] = Resource(logical_id, str(kind), properties, spec.get("Condition"))

    routes, schedules, sqs_sources = _event_sources(events, http_apis, api_globals)
    return Template(
        path=path,
        parameters=parameters,
        conditions=document.get("Conditions") or {},
        mappings=document.get("Mappings") or {},
        functions=functions,
        layers=layers,
        http_apis=http_apis,
        routes=tuple(routes),
        schedules=tuple(schedules),
        sqs_sources=tuple(sqs_sources),
        resources=resources,
    )


def _event_sources(
    events: Mapping[str, Mapping[str, Any]],
    http_apis: dict[str, HttpApi],
    api_globals: Mapping[str, Any],
) -> tuple[list[Route], list[Schedule], list[SqsSource]]:
    routes: list[Route] = []
    schedules: list[Schedule] = []
    sqs_sources: list[SqsSource] = []
    for function_id, function_events in events.items():
        for event_name, event in function_events.items():
            kind = event.get("Type")
            props = event.get("Properties") or {}
            if kind == "HttpApi":
                api_id = _api_id(props.get("ApiId"))
                if api_id not in http_apis:
                    # Like SAM: an event without ApiId attaches to an implicit API with Globals.HttpApi.
                    http_apis[api_id] = _http_api(api_id, api_globals)
                routes.append(_route(function_id, event_name, api_id, props, http_apis[api_id]))
            elif kind in ("Schedule", "ScheduleV2"):
                schedules.append(_schedule(function_id, event_name, kind, props))
            elif kind == "SQS":
                sqs_sources.append(_sqs_source(function_id, event_name, props))
            else:
                log.warning("devstack: %s event %s of type %s is not emulated", function_id, event_name, kind)
    _check_unique_routes(routes)
    return routes, schedules, sqs_sources


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rules: maps merge (the resource wins), lists add up (Globals first), scalars override."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if _is_intrinsic(global_value) or _is_intrinsic(local_value):
            return copy.deepcopy(local_value)
        merged = copy.deepcopy(global_value)
        for key, value in local_value.items():
            merged[key] = (
                merge_globals(global_value[key], value) if key in global_value else copy.deepcopy(value)
            )
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return copy.deepcopy(global_value) + copy.deepcopy(local_value)
    return copy.deepcopy(local_value)


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    if len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _default(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):  # CommaDelimitedList defaults
        return ",".join(str(v) for v in value)
    return str(value)


def _literal_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TemplateError(f"{what} must be a literal number for the local stack, got {value!r}")
    return int(value)


def _function(logical_id: str, properties: Mapping[str, Any], base: Path) -> Function:
    code_uri = properties.get("CodeUri")
    handler = properties.get("Handler")
    if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"{logical_id}: needs a local CodeUri directory and a module.function Handler")
    if properties.get("PackageType", "Zip") != "Zip" or "InlineCode" in properties:
        raise TemplateError(f"{logical_id}: only zip functions with CodeUri are supported")
    module, _, name = handler.rpartition(".")
    environment = (properties.get("Environment") or {}).get("Variables") or {}
    layer_refs = properties.get("Layers") or []
    retries = (properties.get("EventInvokeConfig") or {}).get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)
    function = Function(
        logical_id=logical_id,
        code_dir=(base / code_uri).resolve(),
        handler_module=module,
        handler_name=name,
        timeout_seconds=_literal_int(properties.get("Timeout", 3), f"{logical_id}.Timeout"),
        memory_mb=_literal_int(properties.get("MemorySize", 128), f"{logical_id}.MemorySize"),
        environment=environment,
        layer_refs=tuple(layer_refs),
        function_name=properties.get("FunctionName"),
        max_async_retries=_literal_int(retries, f"{logical_id}.EventInvokeConfig.MaximumRetryAttempts"),
    )
    if not function.handler_file.is_file():
        raise TemplateError(f"{logical_id}: handler file {function.handler_file} does not exist")
    return function


def _layer(logical_id: str, properties: Mapping[str, Any], metadata: Mapping[str, Any], base: Path) -> Layer:
    content_uri = properties.get("ContentUri")
    if not isinstance(content_uri, str):
        raise TemplateError(f"{logical_id}: ContentUri must be a local directory")
    content = (base / content_uri).resolve()
    # With a python BuildMethod, `sam build` puts ContentUri itself under /opt/python;
    # a prebuilt layer already has the python/ folder inside.
    build_method = str(metadata.get("BuildMethod", ""))
    if build_method == "makefile":
        return Layer(logical_id, None, content, build_method)
    python_dir = content if build_method.startswith("python") else content / "python"
    return Layer(logical_id, python_dir, content, build_method)


def _http_api(logical_id: str, properties: Mapping[str, Any]) -> HttpApi:
    auth = properties.get("Auth") or {}
    default = auth.get("DefaultAuthorizer")
    return HttpApi(logical_id, str(default) if default else None)


def _api_id(value: Any) -> str:
    if value is None:
        return IMPLICIT_HTTP_API
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    raise TemplateError(f"HttpApi event ApiId must be !Ref <HttpApi>, got {value!r}")


def _route(function_id: str, event_name: str, api_id: str, props: Mapping[str, Any], api: HttpApi) -> Route:
    method = str(props.get("Method", "ANY")).upper()
    path = str(props.get("Path", "$default"))
    if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
        method = "ANY"
    authorizer = (props.get("Auth") or {}).get("Authorizer", api.default_authorizer)
    if authorizer in (None, "NONE"):
        auth: Auth = "NONE"
    elif authorizer == "AWS_IAM":
        auth = "AWS_IAM"
    else:
        raise TemplateError(f"{function_id}.{event_name}: authorizer {authorizer!r} is not emulated locally")
    return Route(function_id, event_name, api_id, method, path, auth)


def _schedule(function_id: str, event_name: str, kind: str, props: Mapping[str, Any]) -> Schedule:
    state = props.get("State")
    enabled = props.get("Enabled", True) is not False and state != "DISABLED"
    name = props.get("Name") or f"{function_id}{event_name}"
    return Schedule(
        function_id=function_id,
        event_name=event_name,
        kind="ScheduleV2" if kind == "ScheduleV2" else "Schedule",
        expression=props.get("Schedule") if kind == "Schedule" else props.get("ScheduleExpression"),
        input=props.get("Input"),
        enabled=enabled,
        name=str(name),
    )


def _sqs_source(function_id: str, event_name: str, props: Mapping[str, Any]) -> SqsSource:
    if "Queue" not in props:
        raise TemplateError(f"{function_id}.{event_name}: SQS event without Queue")
    return SqsSource(
        function_id=function_id,
        event_name=event_name,
        queue=props["Queue"],
        batch_size=_literal_int(props.get("BatchSize", 10), f"{function_id}.{event_name}.BatchSize"),
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        enabled=props.get("Enabled", True) is not False,
    )


def _check_unique_routes(routes: list[Route]) -> None:
    seen: dict[str, Route] = {}
    for route in routes:
        other = seen.setdefault(route.route_key, route)
        if other is not route:
            # One local gateway serves every HttpApi, so two APIs may not share a route key.
            raise TemplateError(
                f"route {route.route_key} is declared by {other.function_id}.{other.event_name} "
                f"and {route.function_id}.{route.event_name}"
            )
