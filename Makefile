# Two commands on a fresh machine: `make demo` and `make test`.
.PHONY: demo test bench venv clean

demo: venv
	.venv/bin/python -m devstack.demo

test:
	scripts/check.sh

bench: venv
	.venv/bin/python -m bench

venv:
	scripts/bootstrap.sh

clean:
	rm -rf .venv .venv-sam .aws-sam .pytest_cache .mypy_cache .ruff_cache
