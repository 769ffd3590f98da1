"""CloudFormation intrinsic functions, resolved against local values instead of a deployed stack.

Values come in the shape `samtranslator.yaml_helper.yaml_parse` gives them
(`{"Ref": ...}`, `{"Fn::GetAtt": [...]}`, ...). Anything we cannot resolve raises:
a silently wrong table name or ARN would cost more time than a loud failure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from devstack.local_aws import ACCOUNT_ID, PARTITION, REGION, URL_SUFFIX


class UnresolvableError(ValueError):
    """A reference the local stack has no value for (unknown name, unsupported function)."""


class _NoValue:
    """`AWS::NoValue`: the property or list item disappears."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def pseudo_parameters(stack_name: str) -> dict[str, Any]:
    return {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": URL_SUFFIX,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/local",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


class Resolver:
    """Resolves intrinsics with the values known so far.

    `refs` and `attributes` are read at call time, so the caller can keep filling them
    while resources are created one after another.
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        conditions: Mapping[str, Any],
        refs: Mapping[str, Any],
        attributes: Mapping[tuple[str, str], Any],
        stack_name: str,
        mappings: Mapping[str, Any] | None = None,
    ) -> None:
        self._parameters = parameters
        self._conditions = conditions
        self._refs = refs
        self._attributes = attributes
        self._pseudo = pseudo_parameters(stack_name)
        self._mappings = mappings or {}
        self._condition_values: dict[str, bool] = {}
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::If": self._if,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::Equals": self._equals,
            "Fn::Not": self._not,
            "Fn::And": self._and,
            "Fn::Or": self._or,
            "Condition": lambda name: self.condition(str(name)),
            "Fn::FindInMap": self._find_in_map,
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key in self._functions:
                    return self._functions[key](argument)
                if key.startswith("Fn::"):
                    raise UnresolvableError(f"intrinsic {key} is not supported by the local stack")
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def resolve_string(self, value: Any, what: str) -> str:
        resolved = self.resolve(value)
        if isinstance(resolved, bool) or not isinstance(resolved, str | int | float):
            raise UnresolvableError(f"{what} must resolve to a string, got {resolved!r}")
        return str(resolved)

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._conditions:
                raise UnresolvableError(f"unknown condition {name!r}")
            self._condition_values[name] = bool(self.resolve(self._conditions[name]))
        return self._condition_values[name]

    # --- functions ---------------------------------------------------------

    def _ref(self, name: Any) -> Any:
        name = str(name)
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        if name in self._refs:
            return self._refs[name]
        raise UnresolvableError(f"!Ref {name}: no local value (unknown, ignored or not created yet)")

    def _get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = str(argument[0]), self.resolve(argument[1])
        key = (logical_id, str(attribute))
        if key not in self._attributes:
            raise UnresolvableError(f"!GetAtt {logical_id}.{attribute}: no local value")
        return self._attributes[key]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            template, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            template, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is the escape for a literal ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self._get_att(name))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, str(template))

    def _if(self, argument: Any) -> Any:
        name, if_true, if_false = argument
        return self.resolve(if_true if self.condition(str(name)) else if_false)

    def _join(self, argument: Any) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        delimiter, source = argument
        return str(self.resolve(source)).split(str(delimiter))

    def _equals(self, argument: Any) -> bool:
        left, right = (self.resolve(v) for v in argument)
        return str(left) == str(right)

    def _not(self, argument: Any) -> bool:
        return not self.resolve(argument[0])

    def _and(self, argument: Any) -> bool:
        return all(self.resolve(v) for v in argument)

    def _or(self, argument: Any) -> bool:
        return any(self.resolve(v) for v in argument)

    def _find_in_map(self, argument: Any) -> Any:
        name, first, second = (self.resolve(v) for v in argument)
        try:
            return self._mappings[name][first][second]
        except KeyError:
            raise UnresolvableError(f"!FindInMap {name}/{first}/{second}: no such entry") from None
