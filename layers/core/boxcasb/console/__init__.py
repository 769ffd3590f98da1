"""`boxcasb console`: the admin console, served on 127.0.0.1 to the admin's own browser.

Every page is rendered on the server from the admin API (`boxcasb.cli.api_client.AdminApi`, SigV4
with the admin's AWS credentials); the browser never sees those credentials. Not part of any
Lambda: it imports Jinja2, which the Lambda layer does not ship.
"""
