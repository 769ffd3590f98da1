"""Local stand-in for AWS: runs the real handlers of template.yaml against moto, offline.

`devstack.stack.LocalStack` is the Python API; `python -m devstack.run` the command line.
"""
