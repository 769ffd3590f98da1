"""The one process environment every in-process handler shares.

In AWS each function has its own environment; here they share `os.environ`, which
is only faithful while no two functions want different values for one variable.
So the union is taken and any disagreement stops the stack before it starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from devstack.intrinsics import Resolver
from devstack.local_aws import LOCAL_IDENTITY, REGION
from devstack.template_model import Function


class EnvironmentConflictError(ValueError):
    """Two functions need different values for the same variable."""


def function_environment(function: Function, resolver: Resolver) -> dict[str, str]:
    """Globals + the function's own Variables, with intrinsics resolved (NoValue drops the variable)."""
    resolved = resolver.resolve(dict(function.environment))
    return {name: _text(value) for name, value in resolved.items()}


def union_environment(per_function: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    union: dict[str, str] = {}
    owner: dict[str, str] = {}
    for function_id, variables in per_function.items():
        for name, value in variables.items():
            if name in union and union[name] != value:
                raise EnvironmentConflictError(
                    f"{name} is {union[name]!r} for {owner[name]} but {value!r} for {function_id}; "
                    "in-process handlers share one environment, so the local stack cannot run both"
                )
            union.setdefault(name, value)
            owner.setdefault(name, function_id)
    return union


def aws_environment(moto_url: str, lambda_url: str) -> dict[str, str]:
    """Points every boto3 client in the process at moto, and Lambda calls at the invoke emulator."""
    return {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_LAMBDA": lambda_url,
        "AWS_ACCESS_KEY_ID": LOCAL_IDENTITY.access_key,
        "AWS_SECRET_ACCESS_KEY": LOCAL_IDENTITY.secret_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


class EnvironmentPatch:
    """Sets variables in os.environ and puts back exactly what was there before."""

    # Would override or shadow the variables we set (a real profile, a session token).
    _CLEARED = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE")

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._variables = dict(variables)
        self._saved: dict[str, str | None] = {}

    def apply(self) -> None:
        for name in (*self._variables, *self._CLEARED):
            self._saved.setdefault(name, os.environ.get(name))
        for name in self._CLEARED:
            os.environ.pop(name, None)
        os.environ.update(self._variables)

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise ValueError(f"environment values must be scalars, got {value!r}")
    return str(value)
