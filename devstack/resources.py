"""Creates the template's stateful resources on moto, as CloudFormation would, and reports their names.

Supported: DynamoDB tables (keys, GSIs/LSIs, streams, TTL, PITR, SSE), KMS keys,
Secrets Manager secrets and SQS queues (with RedrivePolicy). Everything else is
skipped with a log line; a function that references a skipped resource fails at start.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from devstack.intrinsics import Resolver
from devstack.local_aws import ACCOUNT_ID, LOCAL_IDENTITY, PARTITION, REGION
from devstack.template_model import Resource, TemplateError

log = logging.getLogger(__name__)

TABLE = "AWS::DynamoDB::Table"
KEY = "AWS::KMS::Key"
SECRET = "AWS::SecretsManager::Secret"  # noqa: S105 - a resource type name
QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"

# CloudFormation SQS properties that become queue attributes under the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)
_GSI_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


@dataclass
class PhysicalResource:
    logical_id: str
    type: str
    ref: str  # what !Ref gives
    attributes: dict[str, str] = field(default_factory=dict)  # what !GetAtt gives


_session_lock = threading.Lock()
_session: boto3.session.Session | None = None


def aws_client(service: str, endpoint_url: str) -> Any:
    """A client for moto with the local credentials, never the caller's own AWS configuration."""
    global _session  # noqa: PLW0603 - one session: each new one reloads every service model (~0.3 s)
    with _session_lock:  # creating clients from one session is not thread-safe
        if _session is None:
            _session = boto3.session.Session(
                aws_access_key_id=LOCAL_IDENTITY.access_key,
                aws_secret_access_key=LOCAL_IDENTITY.secret_key,
                region_name=REGION,
            )
        return _session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]


class ResourceFactory:
    def __init__(self, endpoint_url: str, stack_name: str) -> None:
        self._endpoint_url = endpoint_url
        self._stack_name = stack_name
        # Like CloudFormation's generated names: two stacks sharing moto's backends never collide.
        self._suffix = secrets.token_hex(4).upper()
        self.created: list[PhysicalResource] = []
        self._creators: dict[str, Callable[[str, Mapping[str, Any]], PhysicalResource]] = {
            TABLE: self._table,
            KEY: self._key,
            SECRET: self._secret,
            QUEUE: self._queue,
            TOPIC: self._topic,
        }

    def create_all(
        self,
        resources: Mapping[str, Resource],
        resolver: Resolver,
        refs: dict[str, Any],
        attributes: dict[tuple[str, str], Any],
    ) -> dict[str, PhysicalResource]:
        """Create in dependency order, publishing each one's Ref/GetAtt values for the next."""
        wanted: dict[str, Resource] = {}
        for logical_id, resource in resources.items():
            if resource.type not in self._creators:
                log.info("devstack: not emulated, skipped: %s (%s)", logical_id, resource.type)
            elif resource.condition and not resolver.condition(resource.condition):
                log.info("devstack: condition %s is false, skipped: %s", resource.condition, logical_id)
            else:
                wanted[logical_id] = resource
        created: dict[str, PhysicalResource] = {}
        for resource in _dependency_order(wanted):
            properties = resolver.resolve(dict(resource.properties))
            physical = self._creators[resource.type](resource.logical_id, properties)
            created[resource.logical_id] = physical
            self.created.append(physical)
            refs[resource.logical_id] = physical.ref
            for name, value in physical.attributes.items():
                attributes[(resource.logical_id, name)] = value
        return created

    def delete_all(self) -> None:
        """Best-effort removal of what this factory created, newest first (a DLQ outlives its queue)."""
        for physical in reversed(self.created):
            try:
                self._delete(physical)
            except Exception as exc:  # a half-started stack must still stop
                log.warning("devstack: could not delete %s: %s", physical.logical_id, exc)
        self.created = []

    def _delete(self, physical: PhysicalResource) -> None:
        if physical.type == TABLE:
            aws_client("dynamodb", self._endpoint_url).delete_table(TableName=physical.ref)
        elif physical.type == KEY:
            aws_client("kms", self._endpoint_url).schedule_key_deletion(
                KeyId=physical.ref, PendingWindowInDays=7
            )
        elif physical.type == SECRET:
            client = aws_client("secretsmanager", self._endpoint_url)
            client.delete_secret(SecretId=physical.ref, ForceDeleteWithoutRecovery=True)
        elif physical.type == QUEUE:
            aws_client("sqs", self._endpoint_url).delete_queue(QueueUrl=physical.ref)
        elif physical.type == TOPIC:
            aws_client("sns", self._endpoint_url).delete_topic(TopicArn=physical.ref)

    def _name(self, logical_id: str) -> str:
        return f"{self._stack_name}-{logical_id}-{self._suffix}"

    def _table(self, logical_id: str, props: Mapping[str, Any]) -> PhysicalResource:
        client = aws_client("dynamodb", self._endpoint_url)
        name = str(props.get("TableName") or self._name(logical_id))
        billing = props.get("BillingMode", "PROVISIONED")
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": billing,
        }
        if billing == "PROVISIONED":
            request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        if "GlobalSecondaryIndexes" in props:
            request["GlobalSecondaryIndexes"] = [
                {k: v for k, v in gsi.items() if k in _GSI_KEYS} for gsi in props["GlobalSecondaryIndexes"]
            ]
        if "LocalSecondaryIndexes" in props:
            request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
        if "StreamSpecification" in props:
            view = props["StreamSpecification"]["StreamViewType"]
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        if "SSESpecification" in props:
            # CloudFormation spells it SSEEnabled, the API Enabled.
            sse = dict(props["SSESpecification"])
            request["SSESpecification"] = {"Enabled": bool(sse.pop("SSEEnabled", False)), **sse}
        if "DeletionProtectionEnabled" in props:
            request["DeletionProtectionEnabled"] = bool(props["DeletionProtectionEnabled"])
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        table = client.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and pitr.get("PointInTimeRecoveryEnabled"):
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        attributes = {"Arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            attributes["StreamArn"] = table["LatestStreamArn"]
        return PhysicalResource(logical_id, TABLE, name, attributes)

    def _key(self, logical_id: str, props: Mapping[str, Any]) -> PhysicalResource:
        client = aws_client("kms", self._endpoint_url)
        request: dict[str, Any] = {}
        for prop in ("Description", "KeyUsage", "KeySpec", "MultiRegion"):
            if prop in props:
                request[prop] = props[prop]
        if "KeyPolicy" in props:
            policy = props["KeyPolicy"]
            request["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        if props.get("Tags"):
            request["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]]
        metadata = client.create_key(**request)["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            client.enable_key_rotation(KeyId=metadata["KeyId"])
        if props.get("Enabled") is False:
            client.disable_key(KeyId=metadata["KeyId"])
        key_id = metadata["KeyId"]
        return PhysicalResource(logical_id, KEY, key_id, {"Arn": metadata["Arn"], "KeyId": key_id})

    def _secret(self, logical_id: str, props: Mapping[str, Any]) -> PhysicalResource:
        client = aws_client("secretsmanager", self._endpoint_url)
        request: dict[str, Any] = {"Name": str(props.get("Name") or self._name(logical_id))}
        for prop in ("Description", "KmsKeyId"):
            if prop in props:
                request[prop] = props[prop]
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        if "SecretString" in props:
            request["SecretString"] = str(props["SecretString"])
        elif "GenerateSecretString" in props:
            request["SecretString"] = _generated_secret(client, props["GenerateSecretString"])
        arn = client.create_secret(**request)["ARN"]
        return PhysicalResource(logical_id, SECRET, arn, {"Id": arn})

    def _queue(self, logical_id: str, props: Mapping[str, Any]) -> PhysicalResource:
        client = aws_client("sqs", self._endpoint_url)
        fifo = bool(props.get("FifoQueue"))
        name = str(props.get("QueueName") or self._name(logical_id) + (".fifo" if fifo else ""))
        attributes = {prop: _attribute(props[prop]) for prop in _QUEUE_ATTRIBUTES if prop in props}
        for prop in ("RedrivePolicy", "RedriveAllowPolicy"):
            if prop in props:
                value = props[prop]
                attributes[prop] = value if isinstance(value, str) else json.dumps(value)
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if props.get("Tags"):
            request["tags"] = {t["Key"]: t["Value"] for t in props["Tags"]}
        url = client.create_queue(**request)["QueueUrl"]
        arn = f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        return PhysicalResource(logical_id, QUEUE, url, {"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _topic(self, logical_id: str, props: Mapping[str, Any]) -> PhysicalResource:
        name = str(props.get("TopicName") or self._name(logical_id))
        attributes = {k: str(props[k]) for k in ("DisplayName", "KmsMasterKeyId") if k in props}
        arn = aws_client("sns", self._endpoint_url).create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return PhysicalResource(logical_id, TOPIC, arn, {"TopicArn": arn, "TopicName": name})


def _attribute(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _generated_secret(client: Any, spec: Mapping[str, Any]) -> str:
    options = {
        k: spec[k]
        for k in (
            "PasswordLength",
            "ExcludeCharacters",
            "ExcludeNumbers",
            "ExcludePunctuation",
            "ExcludeUppercase",
            "ExcludeLowercase",
            "IncludeSpace",
            "RequireEachIncludedType",
        )
        if k in spec
    }
    password = str(client.get_random_password(**options)["RandomPassword"])
    if "SecretStringTemplate" in spec and "GenerateStringKey" in spec:
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = password
        return json.dumps(document)
    return password


_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)[.}]")


def _references(value: Any) -> Iterator[str]:
    """Logical ids a property value points at through Ref, GetAtt or Sub."""
    if isinstance(value, dict):
        for key, argument in value.items():
            if key == "Ref":
                yield str(argument)
            elif key == "Fn::GetAtt":
                yield str(argument.split(".", 1)[0] if isinstance(argument, str) else argument[0])
            elif key == "Fn::Sub":
                template = argument[0] if isinstance(argument, list) else argument
                yield from _SUB_NAME.findall(str(template))
            yield from _references(argument)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _dependency_order(resources: Mapping[str, Resource]) -> list[Resource]:
    pending = {
        logical_id: {ref for ref in _references(dict(r.properties)) if ref in resources and ref != logical_id}
        for logical_id, r in resources.items()
    }
    ordered: list[Resource] = []
    while pending:
        ready = [logical_id for logical_id, deps in pending.items() if not deps]
        if not ready:
            raise TemplateError(f"circular references between resources: {sorted(pending)}")
        for logical_id in ready:
            ordered.append(resources[logical_id])
            del pending[logical_id]
        for deps in pending.values():
            deps.difference_update(ready)
    return ordered
