"""boxcasb: a self-hosted Cloud App Security connector for Box."""
