"""LocalStack: template.yaml brought up on one machine, with the real handlers running in-process.

moto plays DynamoDB, KMS, Secrets Manager and SQS; a local HTTP server plays the
HttpApi (SigV4 included); another plays the Lambda Invoke API; SQS event sources and
schedules are driven from threads. Nothing about functions, routes or resources is
declared here: it all comes from the template.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3

from devstack import data_layers
from devstack.environment import (
    EnvironmentPatch,
    aws_environment,
    function_environment,
    union_environment,
)
from devstack.fake_box.deliveries import DEFAULT_WEBHOOK_KEYS
from devstack.handlers import (
    LocalFunction,
    ModuleSandbox,
    check_no_shared_module_names,
    function_arn,
    load_handler,
)
from devstack.http_gateway import HttpGateway
from devstack.intrinsics import Resolver
from devstack.lambda_invoke import AsyncInvocations, AsyncOutcome, LambdaInvokeServer
from devstack.local_aws import ACCOUNT_ID, LOCAL_IDENTITY, PARTITION, REGION, MotoServer
from devstack.resources import QUEUE, PhysicalResource, ResourceFactory, aws_client
from devstack.routes import RouteTable
from devstack.schedules import ScheduleTimer, TimedSchedule, rate_seconds, scheduled_event
from devstack.sqs_source import SqsPoller
from devstack.template_model import Schedule, Template, TemplateError, load_template

log = logging.getLogger(__name__)

# Template parameters the local stack sets (when the template declares them).
BOX_API_PARAMETER = "BoxApiBaseUrl"
BOX_UPLOAD_PARAMETER = "BoxUploadBaseUrl"
BOX_AUTHORIZE_PARAMETER = "BoxAuthorizeUrl"
REDIRECT_URI_PARAMETER = "OAuthRedirectUri"
WEBHOOK_ADDRESS_PARAMETER = "WebhookAddress"
CALLBACK_PATH = "/oauth/box/callback"
WEBHOOK_PATH = "/webhooks/box"
# The variable through which handlers find the Box app credentials (what `boxcasb configure` fills).
BOX_APP_SECRET_VARIABLE = "BOX_APP_SECRET_ARN"  # noqa: S105 - a variable name
WEBHOOK_KEYS_SECRET_VARIABLE = "WEBHOOK_KEYS_SECRET_ARN"  # noqa: S105 - a variable name


class LocalStack:
    def __init__(
        self,
        template: str | Path = "template.yaml",
        *,
        box_base_url: str | None = None,
        box_upload_url: str | None = None,
        box_authorize_url: str | None = None,
        box_client_id: str | None = "fake-client-id",
        box_client_secret: str | None = "fake-client-secret",  # noqa: S107 - the fake Box's
        webhook_keys: tuple[str | None, str | None] | None = DEFAULT_WEBHOOK_KEYS,
        api_port: int = 0,
        lambda_port: int = 0,
        stack_name: str = "boxcasb-local",
        parameter_overrides: Mapping[str, str] | None = None,
        poll_queues: bool = True,
        fire_schedules: bool = False,
        async_retry_delay_seconds: float = 0.0,
        quiet_moto: bool = True,
    ) -> None:
        self.template: Template = load_template(template)
        self._box_urls = _box_urls(box_base_url, box_upload_url, box_authorize_url)
        self._box_credentials = (box_client_id, box_client_secret)
        self._webhook_keys = webhook_keys
        self._api_port = api_port
        self._lambda_port = lambda_port
        self._stack_name = stack_name
        self._parameter_overrides = dict(parameter_overrides or {})
        self._poll_queues = poll_queues
        self._fire_schedules = fire_schedules
        self._async_retry_delay = async_retry_delay_seconds
        self._quiet_moto = quiet_moto
        self._async = AsyncInvocations(retry_delay_seconds=async_retry_delay_seconds)
        self._moto = MotoServer(quiet=quiet_moto)
        self._gateway: HttpGateway | None = None
        self._lambda: LambdaInvokeServer | None = None
        self._functions: dict[str, LocalFunction] = {}
        self._pollers: list[SqsPoller] = []
        self._timer: ScheduleTimer | None = None
        self._env_patch: EnvironmentPatch | None = None
        self._sandbox: ModuleSandbox | None = None
        self._opt_dir: Path | None = None  # the makefile layers, built as /opt would hold them
        self._saved_boto3_session: boto3.session.Session | None = None
        self._resolver: Resolver | None = None
        self._factory: ResourceFactory | None = None
        self._env: dict[str, str] = {}
        self.resources: dict[str, PhysicalResource] = {}
        self.started = False

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started = True
        return self

    def _start(self) -> None:
        # Fresh each start, so a stopped stack can be started again.
        self._async = AsyncInvocations(retry_delay_seconds=self._async_retry_delay)
        self._moto = MotoServer(quiet=self._quiet_moto)
        moto_url = self._moto.start()
        self._gateway = HttpGateway(
            RouteTable(self.template.routes),
            self._invoke_for_gateway,
            self._api_ids(),
            LOCAL_IDENTITY,
            self._api_port,
        )
        self._lambda = LambdaInvokeServer(lambda: self._functions, self._async, self._lambda_port)

        refs: dict[str, Any] = {}
        attributes: dict[tuple[str, str], Any] = {}
        resolver = Resolver(
            parameters=self._parameters(),
            conditions=self.template.conditions,
            refs=refs,
            attributes=attributes,
            stack_name=self._stack_name,
            mappings=self.template.mappings,
        )
        self._resolver = resolver
        names = self._publish_code_refs(resolver, refs, attributes)
        self._factory = ResourceFactory(moto_url, self._stack_name)
        self.resources = self._factory.create_all(self.template.resources, resolver, refs, attributes)

        per_function = {
            logical_id: function_environment(function, resolver)
            for logical_id, function in self.template.functions.items()
        }
        self._env = {**union_environment(per_function), **aws_environment(moto_url, self._lambda.url)}
        self._opt_dir = Path(tempfile.mkdtemp(prefix="devstack-opt-"))
        built = data_layers.build(self.template.layers.values(), self._opt_dir)
        self._env.update(data_layers.opt_paths(self._env, built))
        self._env_patch = EnvironmentPatch(self._env)
        self._env_patch.apply()
        # A fresh default session, so no credentials or endpoints cached before the stack leak in.
        self._saved_boto3_session = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = None
        self._configure_box_app_secret(moto_url)
        if self._webhook_keys is not None:
            self.set_webhook_keys(*self._webhook_keys)

        check_no_shared_module_names(self.template.functions.values())
        self._sandbox = ModuleSandbox(
            self._layer_dirs(resolver),
            [function.code_dir for function in self.template.functions.values()],
        )
        self._sandbox.open()
        for logical_id, function in self.template.functions.items():
            self._functions[logical_id] = LocalFunction(function, names[logical_id], load_handler(function))

        self._gateway.serve()
        self._lambda.serve()
        if self._poll_queues:
            for index in range(len(self.template.sqs_sources)):
                poller = self._poller(index)
                if poller is not None:
                    self._pollers.append(poller)
                    poller.start()
        if self._fire_schedules:
            self._timer = ScheduleTimer(self._timed_schedules(), self._fire_async)
            self._timer.start()

    def stop(self) -> None:
        """Stop everything started, in reverse, and give the process back its environment."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        for poller in self._pollers:
            poller.signal_stop()
        for poller in self._pollers:
            poller.join()
        self._pollers = []
        for server in (self._gateway, self._lambda):
            if server is not None:
                server.stop()
        self._gateway = self._lambda = None
        self._async.wait(timeout=5)
        self._async.shutdown()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        if self._env_patch is not None:
            self._env_patch.restore()
            self._env_patch = None
            boto3.DEFAULT_SESSION = self._saved_boto3_session
        self._functions = {}
        if self._factory is not None:
            self._factory.delete_all()
            self._factory = None
        self._moto.stop()
        if self._opt_dir is not None:
            shutil.rmtree(self._opt_dir, ignore_errors=True)
            self._opt_dir = None
        self.started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what callers use --------------------------------------------------

    @property
    def api_url(self) -> str:
        return self._running(self._gateway).url

    @property
    def callback_url(self) -> str:
        return f"{self.api_url}{CALLBACK_PATH}"

    @property
    def webhook_url(self) -> str:
        return f"{self.api_url}{WEBHOOK_PATH}"

    @property
    def lambda_url(self) -> str:
        return self._running(self._lambda).url

    @property
    def moto_url(self) -> str:
        return self._moto.url

    @property
    def env(self) -> dict[str, str]:
        """The environment the handlers run with (template variables plus the local AWS wiring)."""
        return dict(self._env)

    @property
    def async_outcomes(self) -> list[AsyncOutcome]:
        return self._async.snapshot()

    def function_name(self, logical_id: str) -> str:
        return self._function(logical_id).name

    def client(self, service: str) -> Any:
        """A boto3 client for the local moto, with the local credentials."""
        return aws_client(service, self.moto_url)

    def admin_api(self) -> Any:
        """The admin API client (`boxcasb.cli.api_client.AdminApi`), signing as the local identity."""
        from boxcasb.cli.api_client import AdminApi  # on use: the stack loads the package itself

        session = boto3.Session(
            region_name=REGION,
            aws_access_key_id=LOCAL_IDENTITY.access_key,
            aws_secret_access_key=LOCAL_IDENTITY.secret_key,
        )
        return AdminApi(self.api_url, session)

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Invoke synchronously, like `sam local invoke -e`: the result, or the handler's exception."""
        return self._function(logical_id).invoke(event)

    def run_schedule(self, logical_id: str, event_name: str | None = None) -> Any:
        """Invoke synchronously with the event the function's schedule would send."""
        schedules = [s for s in self.template.schedules if s.function_id == logical_id]
        if event_name is not None:
            schedules = [s for s in schedules if s.event_name == event_name]
        if len(schedules) != 1:
            found = [s.event_name for s in schedules]
            raise KeyError(
                f"{logical_id}: expected one schedule{f' named {event_name}' if event_name else ''}, "
                f"found {found}"
            )
        return self.invoke(logical_id, self._schedule_event(schedules[0]))

    def invoke_async(self, logical_id: str, event: Any) -> str:
        """Queue an asynchronous invocation (InvocationType=Event) and return its request id."""
        return self._async.submit(self._function(logical_id), event)

    def set_queue_visibility(self, seconds: int) -> None:
        """Every queue's VisibilityTimeout, for runs that compress time (a failed message is back
        in `seconds`, not the template's minutes); the redrive policy still counts receives.

        Returns once every receive under way has ended: moto takes a queue's visibility when a
        long poll starts, so a message that arrived during a poll begun before the change was
        hidden for the template's 30 to 90 minutes. That was the chaos suite's rare hang: such a
        message met a fault and sat invisible past the whole drain.
        """
        for resource in self.resources.values():
            if resource.type == QUEUE:
                self.client("sqs").set_queue_attributes(
                    QueueUrl=resource.ref, Attributes={"VisibilityTimeout": str(seconds)}
                )
        # A poll lasts its wait, and moto checks for messages once a second within it.
        time.sleep(max((p.wait_seconds for p in self._pollers), default=0) + 1.5)

    def redeliver_processed(self, rate: float, seed: int) -> None:
        """Chaos: every event source puts back `rate` of what its function handled (see SqsPoller)."""
        for index, poller in enumerate(self._pollers):
            poller.redeliver(rate, seed + index)

    def redelivered(self) -> dict[str, int]:
        """Handled messages put back so far, per function."""
        counts: dict[str, int] = {}
        for poller in self._pollers:
            counts[poller.source.function_id] = counts.get(poller.source.function_id, 0) + poller.redelivered
        return counts

    def wait_for_async(self, timeout: float = 10.0) -> None:
        """Wait until no asynchronous invocation is queued or running and every polled queue is empty."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            # Re-check pending last: a batch handler may queue an invocation while we look at the queues.
            if (
                self._async.wait(max(0.0, remaining))
                and all(p.is_drained() for p in self._pollers)
                and self._async.pending == 0
            ):
                return
            if time.monotonic() >= deadline:
                busy = [p.describe() for p in self._pollers if not p.is_drained()]
                raise TimeoutError(
                    f"still busy after {timeout}s: {self._async.pending} async invocation(s), queues {busy}"
                )
            time.sleep(0.05)

    # --- wiring ------------------------------------------------------------

    def _function(self, logical_id: str) -> LocalFunction:
        if not self._functions:
            raise RuntimeError("the local stack is not started")
        try:
            return self._functions[logical_id]
        except KeyError:
            raise KeyError(
                f"no function {logical_id!r} in the template; have {sorted(self._functions)}"
            ) from None

    def _invoke_for_gateway(self, function_id: str, event: dict[str, Any]) -> Any:
        return self._functions[function_id].invoke(event)

    def _parameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: p.default for name, p in self.template.parameters.items()}
        local = {
            BOX_API_PARAMETER: self._box_urls[0],
            BOX_UPLOAD_PARAMETER: self._box_urls[1],
            BOX_AUTHORIZE_PARAMETER: self._box_urls[2],
            REDIRECT_URI_PARAMETER: self.callback_url,
            WEBHOOK_ADDRESS_PARAMETER: self.webhook_url,
            **self._parameter_overrides,
        }
        for name, value in local.items():
            if value is not None and name in values:
                values[name] = value
        unknown = set(self._parameter_overrides) - set(values)
        if unknown:
            raise TemplateError(f"parameter overrides for parameters the template lacks: {sorted(unknown)}")
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise TemplateError(f"parameters without a default need a local value: {missing}")
        return values

    def _api_ids(self) -> dict[str, str]:
        # Stable, API-Gateway-looking ids (10 lowercase characters) per HttpApi logical id.
        return {name: hashlib.sha256(name.encode()).hexdigest()[:10] for name in self.template.http_apis}

    def _publish_code_refs(
        self, resolver: Resolver, refs: dict[str, Any], attributes: dict[tuple[str, str], Any]
    ) -> dict[str, str]:
        """Ref/GetAtt values of functions, layers and APIs (known before any resource exists)."""
        names: dict[str, str] = {}
        for logical_id, function in self.template.functions.items():
            name = logical_id
            if function.function_name is not None:
                name = resolver.resolve_string(function.function_name, f"{logical_id}.FunctionName")
            names[logical_id] = name
            refs[logical_id] = name
            attributes[(logical_id, "Arn")] = function_arn(name)
        for logical_id in self.template.layers:
            refs[logical_id] = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:layer:{logical_id}:1"
        for logical_id, api_id in self._api_ids().items():
            refs[logical_id] = api_id
            attributes[(logical_id, "ApiEndpoint")] = self.api_url
        return names

    def _layer_dirs(self, resolver: Resolver) -> list[Path]:
        by_arn = {
            resolver.resolve({"Ref": layer_id}): layer for layer_id, layer in self.template.layers.items()
        }
        directories: list[Path] = []
        for function in self.template.functions.values():
            for ref in function.layer_refs:
                layer = by_arn.get(resolver.resolve(ref))
                if layer is None:
                    log.warning(
                        "devstack: %s uses layer %r, which is not in the template", function.logical_id, ref
                    )
                elif layer.python_dir is not None and layer.python_dir not in directories:
                    directories.append(layer.python_dir)
        return directories

    def _configure_box_app_secret(self, moto_url: str) -> None:
        """What `boxcasb configure` does in AWS: put the Box app's credentials into the secret."""
        secret_arn = self._env.get(BOX_APP_SECRET_VARIABLE)
        client_id, client_secret = self._box_credentials
        if not secret_arn or client_id is None or client_secret is None:
            return
        aws_client("secretsmanager", moto_url).put_secret_value(
            SecretId=secret_arn,
            SecretString=json.dumps({"client_id": client_id, "client_secret": client_secret}),
        )

    def set_webhook_keys(self, primary: str | None, secondary: str | None) -> None:
        """What `boxcasb configure --webhook-keys` does in AWS (a key rotation, in tests)."""
        secret_arn = self._env.get(WEBHOOK_KEYS_SECRET_VARIABLE)
        if secret_arn:
            aws_client("secretsmanager", self.moto_url).put_secret_value(
                SecretId=secret_arn, SecretString=json.dumps({"primary": primary, "secondary": secondary})
            )

    def _poller(self, index: int) -> SqsPoller | None:
        source = self.template.sqs_sources[index]
        if not source.enabled:
            return None
        resolver = self._running(self._resolver)
        queue_arn = resolver.resolve_string(source.queue, f"{source.function_id}.{source.event_name}.Queue")
        queue = next(
            (r for r in self.resources.values() if r.attributes.get("Arn") == queue_arn),
            None,
        )
        if queue is None:
            raise TemplateError(
                f"{source.function_id}.{source.event_name}: no local queue with ARN {queue_arn}"
            )
        return SqsPoller(source, self._functions[source.function_id], queue.ref, queue_arn, self.moto_url)

    def _schedule_event(self, schedule: Schedule) -> Any:
        resolver = self._running(self._resolver)
        raw_input = None if schedule.input is None else resolver.resolve(schedule.input)
        return scheduled_event(schedule, raw_input)

    def _timed_schedules(self) -> list[TimedSchedule]:
        resolver = self._running(self._resolver)
        timed: list[TimedSchedule] = []
        for schedule in self.template.schedules:
            expression = resolver.resolve_string(
                schedule.expression, f"{schedule.function_id}.{schedule.event_name}"
            )
            period = rate_seconds(expression)
            if not schedule.enabled or period is None:
                log.info("devstack: %s (%s) fires only on demand", schedule.name, expression)
                continue
            timed.append(TimedSchedule(schedule, period))
        return timed

    def _fire_async(self, schedule: Schedule) -> None:
        # The schedulers invoke Lambda asynchronously, so the function's async retries apply.
        self._async.submit(self._functions[schedule.function_id], self._schedule_event(schedule))

    @staticmethod
    def _running[T](component: T | None) -> T:
        if component is None:
            raise RuntimeError("the local stack is not started")
        return component


def _box_urls(base: str | None, upload: str | None, authorize: str | None) -> tuple[str | None, ...]:
    """Unset Box URLs follow the base URL with Box's own paths (upload: /api, authorize: /api/oauth2)."""
    if base is None:
        return (None, upload, authorize)
    base = base.rstrip("/")
    return (base, upload or f"{base}/api", authorize or f"{base}/api/oauth2/authorize")
