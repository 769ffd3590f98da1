"""The only place that imports boxsdk (`box_sdk_gen`). Everything else sees our models and errors."""

from boxcasb.box_gateway.gateway import BoxGateway, BoxGatewayFactory
from boxcasb.box_gateway.oauth_app import BoxApp, RateLimitedSession

__all__ = ["BoxApp", "BoxGateway", "BoxGatewayFactory", "RateLimitedSession"]
