"""The one-machine stack: the template's functions, wired to PostgreSQL, moto, a gateway, pollers, schedules.

`LocalStack(options).start()` brings everything up in this process and returns once the API
answers; `stop()` takes it down again (pollers, schedules, gateway, moto, the embedded PostgreSQL,
and any command a run had started), leaving no process behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from uuid import UUID
from wsgiref.types import WSGIApplication

from testgenie_local.aws import LocalAws, aws_environment, create_resources, start_moto
from testgenie_local.bundle import local_target, upload_scenarios
from testgenie_local.gateway import Gateway, PortInUse, ensure_port_free
from testgenie_local.identities import (
    DEVELOPER_USER,
    IDENTITIES,
    STACK_USER,
    Keys,
    enforce,
    function_statements,
    install_default_session,
)
from testgenie_local.identities import provision as provision_identities
from testgenie_local.poller import EventSourceMapping
from testgenie_local.postgres import PostgresServer, ensure_database, provision
from testgenie_local.runner_host import LocalRunner, runner_identity
from testgenie_local.runner_venv import RunnerVenvError
from testgenie_local.runtime import FunctionRuntime, Handler, InProcessHandler, load_handler
from testgenie_local.sandbox import Sandbox, SandboxUnavailable, choose_sandbox
from testgenie_local.scheduler import Scheduler, parse_overrides, plan
from testgenie_local.stack_state import DataDirInUse, DataDirLock
from testgenie_local.template import FunctionSpec, Resolver, Template, load_yaml, read_template

if TYPE_CHECKING:
    from testgenie import bootstrap
    from testgenie.bootstrap import Services
    from testgenie.settings import Settings

    from testgenie_local.durable_host import LocalDurableService

log = logging.getLogger("testgenie.local")
LOCAL_DATABASE = "testgenie"
# The variables the stack itself decides (everything else: the caller's environment, then the template).
_WIRING = (
    "DATABASE_URL",
    "DATABASE_SECRET_ARN",
    "SUITE_REQUEST_QUEUE_URL",
    "ARTIFACTS_BUCKET",
    "ARTIFACTS_DIR",
    "SCENARIOS_SOURCE",
    "AWS_ENDPOINT_URL_LAMBDA",
    "RUNNER_TIMEOUT_SECONDS",
    "ARTIFACTS_UPLOAD_URL",
    "ARTIFACTS_UPLOAD_SECRET",
)
# Why a run the last stack left running ends failed (the durable runner cannot resume it).
INTERRUPTED = "interrupted: the local stack stopped while it ran"
NOT_ISOLATED = (
    "warning: local runs are not isolated: the runner runs as {user}, the stack's own user (only a "
    "stack started as root can run it as nobody), so a scenario can read this stack's environment"
)


class StackError(Exception):
    """The stack cannot start; the message says why and what to do."""


# The way out of a busy port, for `make run` and `testgenie serve` alike.
_PORT_HINT = (
    "stop what holds it, or pick another port: make run PORT={other}  (testgenie serve --port {other})"
)


@dataclass
class StackOptions:
    template: Path
    data_dir: Path
    scenarios: Path | None = None  # default: examples/scenarios next to the template
    port: int = 3000
    host: str = "127.0.0.1"
    database_url: str | None = None  # default: DATABASE_URL, else embedded / machine binaries
    artifacts: str = "dir"  # "dir": <data-dir>/artifacts (survives restarts); "s3": the template's bucket
    poller_concurrency: int | None = None  # default: TESTGENIE_POLLER_CONCURRENCY or 2
    # `--scenarios s3://bucket/prefix`: bundles already in a bucket of the local AWS (nothing uploaded).
    scenarios_url: str | None = None
    # Run scenarios without the bubblewrap sandbox when it cannot run (else the stack refuses to start).
    unsafe_shared_runner: bool = False
    # End the processes in-flight runs had started when stopping (the CLI; not a test's own process).
    end_child_processes: bool = False
    # A WSGI app for the paths no API route takes (pages at `/`; see gateway.GatewayApp).
    mount: WSGIApplication | None = None
    say: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))


@dataclass
class StackInfo:
    api_url: str
    database: str  # "external" | "embedded" | "binaries"
    aws_endpoint: str
    queues: dict[str, str]
    buckets: dict[str, str]
    scenarios: str
    data_dir: str
    pid: int
    # `testgenie push`'s keys for the local S3 (scenarios/ only); stack.json is the stack user's alone.
    aws_developer_keys: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class LocalStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.template: Template | None = None
        self.postgres: PostgresServer | None = None
        self.aws: LocalAws | None = None
        self.gateway: Gateway | None = None
        self.mappings: list[EventSourceMapping] = []
        self.scheduler: Scheduler | None = None
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.runner: LocalRunner | None = None
        self.durable: LocalDurableService | None = None
        self._sandbox: Sandbox | None = None
        self._statements: dict[str, list[dict[str, Any]]] = {}
        self._function_keys: dict[str, Keys] = {}
        self._developer_keys: dict[str, str] = {}
        self.database_url: str | None = None
        self.info: StackInfo | None = None
        self._saved_env: dict[str, str | None] = {}
        self._stopped = threading.Event()
        self._frozen: list[int] = []
        self._environments: list[bootstrap.Environment] = []  # of the loaded handlers, closed at stop
        self.settings: Settings | None = None  # the functions' settings, read once at start
        self._lock: DataDirLock | None = None
        # The key that signs the runner's log uploads (a caller may fix it, e.g. a drill that looks for it).
        self._upload_secret = os.environ.get("ARTIFACTS_UPLOAD_SECRET") or secrets.token_hex(32)

    # -- start --------------------------------------------------------------------------------

    def start(self) -> StackInfo:
        try:
            return self._start()
        except (PortInUse, DataDirInUse) as exc:
            self.stop()
            raise StackError(str(exc)) from None
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        opts = self.options
        self._quiet_powertools()
        data_dir = opts.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)  # the database, every execution's logs: nothing for the runner user to read
        # First: a second stack on this data dir would share its PostgreSQL and its stack.json.
        self._lock = DataDirLock(data_dir)
        self._lock.acquire()
        ensure_port_free(opts.host, opts.port, _PORT_HINT)  # at once, not after PostgreSQL started
        try:  # also at once: where scenarios cannot be sandboxed the stack does not start
            self._sandbox = choose_sandbox(unsafe_shared=opts.unsafe_shared_runner, say=opts.say)
        except SandboxUnavailable as exc:
            raise StackError(str(exc)) from None
        template = self.template = read_template(opts.template)
        scenarios = (opts.scenarios or template.root / "examples" / "scenarios").resolve()
        if opts.scenarios_url is None and not scenarios.is_dir():
            raise StackError(f"scenarios folder not found: {scenarios}")
        self._start_database(data_dir)
        _seal(data_dir, self.postgres)
        self.aws = start_moto(host=opts.host)
        create_resources(self.aws, template)
        self._apply_environment(template, scenarios, data_dir)
        self._check_credentials(template)
        self._load_functions(template)
        self._start_durable(template, data_dir)
        self.gateway = self._make_gateway(template)
        self._start_pollers(template)
        self._start_schedules(template)
        self.gateway.start()
        assert self.postgres is not None
        self.info = StackInfo(
            api_url=self.gateway.url,
            database=self.postgres.kind,
            aws_endpoint=self.aws.endpoint_url,
            queues=dict(self.aws.queue_urls),
            buckets=dict(self.aws.bucket_names),
            scenarios=opts.scenarios_url or str(scenarios),
            data_dir=str(data_dir),
            pid=os.getpid(),
            aws_developer_keys=dict(self._developer_keys),
        )
        self._lock.write_state(self.info.to_json())
        return self.info

    def _quiet_powertools(self) -> None:
        # Before the layer is imported (its Logger and Metrics read these once): Powertools' JSON logs
        # at WARNING, no EMF metric lines on stdout, no tracing. The caller's environment wins.
        quiet = {
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "TestGenie",
        }
        self._set_env({k: v for k, v in quiet.items() if k not in os.environ})
        warnings.filterwarnings("ignore", module="platformdirs")

    def _start_database(self, data_dir: Path) -> None:
        self.postgres = provision(data_dir, database_url=self.options.database_url)
        if self.postgres.kind == "external":
            self.database_url = self.postgres.admin_url
        else:
            self.database_url = ensure_database(self.postgres.admin_url, LOCAL_DATABASE)
        from testgenie.migrate import migrate

        applied = migrate(self.database_url)
        self.options.say(
            f"PostgreSQL ({self.postgres.kind}) ready"
            + (f"; applied {', '.join(applied)}" if applied else "")
        )

    def _make_gateway(self, template: Template) -> Gateway:
        routes = [
            (route, self.runtimes[fn.logical_id])
            for route, fn in template.routes()
            if fn.logical_id in self.runtimes
        ]
        opts = self.options
        return Gateway(
            routes, host=opts.host, port=opts.port, log=_gateway_log, mount=opts.mount, busy_hint=_PORT_HINT
        )

    def _apply_environment(self, template: Template, scenarios: Path, data_dir: Path) -> None:
        assert self.aws is not None
        aws = self.aws
        refs = {**aws.queue_urls, **aws.bucket_names}
        attrs: dict[str, str] = {}
        for logical, url in aws.queue_urls.items():
            attrs[f"{logical}.Arn"] = aws.queue_arns[logical]
            attrs[f"{logical}.QueueUrl"] = url
            attrs[f"{logical}.QueueName"] = url.rsplit("/", 1)[-1]
        for logical, name in aws.bucket_names.items():
            attrs[f"{logical}.Arn"] = f"arn:aws:s3:::{name}"
        resolver = Resolver(
            template.parameters,
            refs=refs,
            attrs=attrs,
            region=aws.region,
            conditions=template.conditions,
            mappings=template.mappings,
        )
        raw = load_yaml(self.options.template.read_text(encoding="utf-8"))
        self._statements = function_statements(raw.get("Resources") or {}, resolver)
        from_template: dict[str, str] = {}
        for fn in template.functions.values():
            for key, raw in fn.environment.items():
                value = resolver.resolve(raw)
                if isinstance(value, bool):
                    from_template.setdefault(key, "true" if value else "false")
                elif isinstance(value, str | int | float):
                    from_template.setdefault(key, str(value))

        queue_url = from_template.get("SUITE_REQUEST_QUEUE_URL")
        if not queue_url or queue_url not in aws.queue_urls.values():
            redriven = [q for q in template.queues.values() if q.dead_letter_queue]
            queue_url = aws.queue_urls[redriven[0].logical_id] if redriven else None
        env: dict[str, str | None] = {
            **aws_environment(aws),
            "DATABASE_URL": self.database_url,
            "DATABASE_SECRET_ARN": None,
            "SUITE_REQUEST_QUEUE_URL": queue_url,
            "SCENARIOS_SOURCE": self._scenario_source(from_template.get("SCENARIOS_SOURCE"), scenarios),
            "ARTIFACTS_BUCKET": None,
            "ARTIFACTS_DIR": None,
        }
        if self.options.artifacts == "s3":
            if not aws.bucket_names:
                raise StackError("--artifacts s3: the template declares no bucket")
            env["ARTIFACTS_BUCKET"] = from_template.get("ARTIFACTS_BUCKET") or next(
                iter(aws.bucket_names.values())
            )
        else:
            env["ARTIFACTS_DIR"] = str(data_dir / "artifacts")
        artifacts_dir = Path(env["ARTIFACTS_DIR"]) if env["ARTIFACTS_DIR"] else None
        env.update(self._start_invocables(template, from_template, artifacts_dir))
        for key, value in from_template.items():
            if key not in _WIRING and key not in env and key not in os.environ:
                env[key] = value
        self._set_env(env)

    def _check_credentials(self, template: Template) -> None:
        """Every function signs with its own role's keys from here on, and moto checks them."""
        assert self.aws is not None
        keys = provision_identities(self.aws.client("iam"), self._statements, self.aws.bucket_names.values())
        self._function_keys = keys
        IDENTITIES.keys = dict(keys)
        IDENTITIES.fallback = None  # a thread of no function signs with keys moto refuses
        self.aws.use_keys(keys[STACK_USER])
        developer = keys[DEVELOPER_USER]
        self._developer_keys = {
            "accessKeyId": developer.access_key_id,
            "secretAccessKey": developer.secret_access_key,
        }
        install_default_session()
        enforce(self.aws.endpoint_url)

    def _scenarios_in_bucket(self, url: str) -> str:
        """`--scenarios s3://bucket/prefix`: a local bucket the template's roles may read."""
        assert self.aws is not None
        bucket = url[len("s3://") :].partition("/")[0]
        local = sorted(self.aws.bucket_names.values())
        if bucket not in local:
            raise StackError(
                f"--scenarios {url}: {bucket!r} is not a bucket of the template here ({', '.join(local) or 'none'}); "
                "the functions' roles may read only those (push bundles into one with `testgenie push`)"
            )
        self.options.say(f"scenarios: the bundles in {url}")
        return url

    def _scenario_source(self, declared: str | None, folder: Path) -> str:
        """The template's s3:// source when the stack holds its bucket, filled from the folder at start,
        so every local run fetches its bundle by URL as on AWS; else the folder itself."""
        assert self.aws is not None
        if self.options.scenarios_url is not None:
            return self._scenarios_in_bucket(self.options.scenarios_url)
        if not declared or not declared.startswith("s3://"):
            return str(folder)
        bucket, _, prefix = declared[len("s3://") :].partition("/")
        if bucket not in self.aws.bucket_names.values():
            return str(folder)
        if self.options.scenarios_url is not None:
            return self._scenarios_in_bucket(self.options.scenarios_url)
        # Vendored as `testgenie push` does: python.requirements resolved for the local runner.
        names = upload_scenarios(folder, self.aws.s3(), bucket, prefix, local_target())
        count = f"{len(names)} bundle" + ("" if len(names) == 1 else "s")
        self.options.say(f"scenarios: {count} from {folder} in {declared}")
        return declared

    def _start_invocables(
        self, template: Template, from_template: dict[str, str], artifacts_dir: Path | None
    ) -> dict[str, str | None]:
        """The functions the service invokes itself (the runner): separate processes behind a local
        Lambda Invoke endpoint. The runner is any function another one names in its environment."""
        names = sorted(
            value
            for value in set(from_template.values())
            if value in template.functions
            and not (template.functions[value].routes or template.functions[value].sqs_sources)
        )
        if not names:
            return {}
        assert self._sandbox is not None  # chosen first thing in _start
        sandbox = self._sandbox
        identity = runner_identity()
        if not sandbox.isolated and not identity.isolated:
            self.options.say(NOT_ISOLATED.format(user=identity.user))
        # TESTGENIE_RUNNER_TIMEOUT_SECONDS: a shorter Timeout for the runner (drills of a hung runner).
        timeout = int(os.environ.get("TESTGENIE_RUNNER_TIMEOUT_SECONDS", "0") or 0)
        specs = [template.functions[name] for name in names]
        if timeout > 0:
            specs = [dataclasses.replace(s, timeout_seconds=min(timeout, s.timeout_seconds)) for s in specs]
        self.runner = LocalRunner(
            specs,
            artifacts_dir=artifacts_dir,
            upload_secret=self._upload_secret,
            identity=identity,
            host=self.options.host,
            say=self.options.say,
            sandbox=sandbox,
        )
        try:
            return self.runner.start()
        except RunnerVenvError as exc:
            raise StackError(f"cannot build the runner's interpreter: {exc}") from None

    def _set_env(self, env: dict[str, str | None]) -> None:
        for key in env:
            self._saved_env.setdefault(key, os.environ.get(key))
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _load_functions(self, template: Template) -> None:
        # The settings of this stack, read once from the environment just applied, for every environment.
        from testgenie.errors import ConfigurationError
        from testgenie.settings import Settings

        try:
            settings = self.settings = Settings.from_env()
        except ConfigurationError as exc:
            raise StackError(str(exc)) from None
        for fn in template.functions.values():
            if not (fn.routes or fn.sqs_sources or fn.schedules):
                continue  # e.g. the migration custom resource: the stack migrates by itself
            try:
                handler = self._configured(load_handler(fn), settings)
            except Exception as exc:
                raise StackError(
                    f"cannot load {fn.logical_id} ({fn.code_uri.name}/{fn.handler}): {exc}"
                ) from exc
            # As many warm environments (so connections) as the template reserves, as on AWS; each
            # gets its own copy of the handler module, as in Lambda.
            load = partial(self._load_environment, fn, settings)
            self.runtimes[fn.logical_id] = FunctionRuntime(
                fn, handler, fn.reserved_concurrency or 8, load=load
            )

    def _load_environment(self, fn: FunctionSpec, settings: Settings, index: int) -> Handler:
        return self._configured(load_handler(fn, index), settings)

    def _configured(self, handler: Handler, settings: Settings) -> Handler:
        """A handler whose module keeps a `bootstrap.Environment` builds its services through
        bootstrap with this stack's settings (not by reading the process's environment again)."""
        from testgenie import bootstrap

        environment = getattr(sys.modules.get(handler.__module__), "environment", None)
        if isinstance(environment, bootstrap.Environment):
            environment.configure(partial(stack_services, settings))
            self._environments.append(environment)
        return handler

    def _start_durable(self, template: Template, data_dir: Path) -> None:
        """The template's durable functions (CoordinatorFunction) under the SDK's local runner, behind
        the runner's Lambda endpoint; executions a previous stack left running are failed now
        ("interrupted"), before anything else can start (docs/local-stack.md)."""
        specs = [fn for fn in template.functions.values() if fn.durable_execution_timeout]
        if not specs or self.runner is None or self.runner.endpoint is None:
            return
        from testgenie_local.durable_host import DurableFunction, LocalDurableService

        # TESTGENIE_COORDINATOR_TIMEOUT_SECONDS: a shorter Timeout for the durable functions (drills of
        # an execution that outlives its function's Timeout).
        override = int(os.environ.get("TESTGENIE_COORDINATOR_TIMEOUT_SECONDS", "0") or 0)
        if override > 0:
            specs = [dataclasses.replace(s, timeout_seconds=min(override, s.timeout_seconds)) for s in specs]
        endpoint = self.runner.endpoint
        assert self.aws is not None
        service = LocalDurableService(
            data_dir / "durable",
            lambda_endpoint=endpoint.url,
            durable=[DurableFunction(s.logical_id, s.durable_execution_timeout or 0) for s in specs],
            plain=sorted(self.runner.functions),
            invocation_timeout=max(s.timeout_seconds for s in specs),
            region=self.aws.region,
            host=self.options.host,
        )
        service.start()
        self.durable = service
        handlers = {s.logical_id: InProcessHandler(self._durable_runtime(s)) for s in specs}
        endpoint.serve_durable(service, handlers, on_stopped=self._abandon_runner_work)
        self._fail_interrupted(service.interrupted(INTERRUPTED))

    def _durable_runtime(self, spec: FunctionSpec) -> FunctionRuntime:
        assert self.settings is not None
        try:
            handler = self._configured(load_handler(spec), self.settings)
        except Exception as exc:
            raise StackError(
                f"cannot load {spec.logical_id} ({spec.code_uri.name}/{spec.handler}): {exc}"
            ) from exc
        from aws_durable_execution_sdk_python.lambda_service import LambdaClient

        from testgenie_local.durable_sdk import wake_checkpointer_on_stop

        # The SDK keeps one Lambda client per process; this stack's endpoint is new.
        LambdaClient._cached_boto_client = None
        wake_checkpointer_on_stop()  # an invocation answers at its last checkpoint, not ~100 ms later
        load = partial(self._load_environment, spec, self.settings)
        return FunctionRuntime(spec, handler, spec.reserved_concurrency or 8, load=load)

    def _abandon_runner_work(self, arn: str) -> None:
        """A stopped execution's runner invocation in flight is abandoned: its processes are killed."""
        name = self.durable.name_of(arn) if self.durable is not None else None
        if name is None or self.runner is None:
            return
        from testgenie.records import execution_id_for

        with contextlib.suppress(ValueError):
            killed = self.runner.abandon(str(execution_id_for(UUID(name))))
            log.info("stopped execution %s: %d runner invocation(s) abandoned", name, killed)

    def _fail_interrupted(self, names: list[str]) -> None:
        if not names:
            return
        from testgenie.queue.models import SuiteRequestStatus

        assert self.settings is not None
        services = stack_services(self.settings)
        try:
            for name in names:
                with contextlib.suppress(ValueError):
                    services.suite_requests.record_stopped(UUID(name), INTERRUPTED, SuiteRequestStatus.FAILED)
        finally:
            services.close()
        self.options.say(f"{len(names)} execution(s) the last stack left running: failed ({INTERRUPTED})")

    def _start_pollers(self, template: Template) -> None:
        assert self.aws is not None
        aws = self.aws
        cap = self.options.poller_concurrency or _env_int("TESTGENIE_POLLER_CONCURRENCY", 2)
        for fn in template.functions.values():
            runtime = self.runtimes.get(fn.logical_id)
            if runtime is None:
                continue
            for source in fn.sqs_sources:
                if not source.enabled:
                    continue
                concurrency = min(cap, source.maximum_concurrency or cap)
                mapping = EventSourceMapping(
                    runtime=runtime,
                    source=source,
                    # As the Lambda service polls: with the function's role (identities.py).
                    sqs=partial(aws.client, "sqs", self._function_keys.get(fn.logical_id)),
                    queue_url=aws.queue_urls[source.queue],
                    queue_arn=aws.queue_arns[source.queue],
                    region=aws.region,
                    concurrency=concurrency,
                )
                mapping.start()
                self.mappings.append(mapping)

    def _start_schedules(self, template: Template) -> None:
        try:
            overrides = parse_overrides(os.environ.get("TESTGENIE_SCHEDULE_SECONDS"))
        except ValueError as exc:
            raise StackError(str(exc)) from None
        pairs = [
            (schedule, self.runtimes[fn.logical_id])
            for fn in template.functions.values()
            if fn.logical_id in self.runtimes
            for schedule in fn.schedules
        ]
        self.scheduler = Scheduler(plan(pairs, overrides))
        self.scheduler.start()

    # -- stop ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop taking work, then take everything down. In-flight invocations are abandoned, as when a
        Lambda environment dies: with `end_child_processes`, their commands are frozen here and killed
        by `abandon()` as the process exits, so no late write of theirs races the shutdown and the
        reaper hands their requests to a later worker."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.runner is not None:
            self.runner.quiesce()
        if self.scheduler is not None:
            self.scheduler.stop(timeout=0)
        for mapping in self.mappings:
            mapping.stop(timeout=0)
        if self.gateway is not None:
            self.gateway.stop()
        if self.options.end_child_processes:
            self._frozen = freeze_children()
        deadline = time.monotonic() + 2.0
        threads = [t for m in self.mappings for t in m._threads]
        threads += self.scheduler._threads if self.scheduler is not None else []
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if not self.options.end_child_processes:
            for environment in self._environments:
                with contextlib.suppress(Exception):  # best effort on the way out
                    environment.close()
        if self.durable is not None:
            self.durable.stop()
        if self.runner is not None:
            self.runner.stop()
        if self.aws is not None:
            self.aws.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self._lock is not None:
            self._lock.release()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def abandon(self, code: int) -> NoReturn:
        """After stop(): kill the frozen commands of in-flight runs and end the process at once."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        # Keep the GIL from here on: no abandoned worker gets to act on its killed command.
        sys.setswitchinterval(60.0)
        for pid in [*self._frozen, *(p for p in child_pids(os.getpid()) if not _is_postgres(p))]:
            _signal(pid, signal.SIGKILL)
        os._exit(code)

    def wait(self) -> None:
        """Block until stop() (or a signal handler calling it)."""
        # time.sleep, not Event.wait: a KeyboardInterrupt raised inside Event.wait can leave its
        # lock half-released ("release unlocked lock") instead of reaching the caller.
        while not self._stopped.is_set():
            time.sleep(0.2)


def _seal(data_dir: Path, postgres: PostgresServer | None) -> None:
    """The data dir private again once PostgreSQL runs: the embedded server opens every folder above
    its own o+rx. When it runs as another user (pgserver started by root) that user keeps the right
    to pass through (0711: nothing can be listed); the stack's own files in it are 0600."""
    other_user = postgres is not None and postgres.kind == "embedded" and os.geteuid() == 0
    data_dir.chmod(0o711 if other_user else 0o700)


def _gateway_log(message: str, exc_info: bool = False) -> None:
    if exc_info:
        log.error(message, exc_info=True)
    else:
        log.info(message)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StackError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise StackError(f"{name} must be at least 1")
    return value


def child_pids(root: int) -> list[int]:
    """Every descendant of `root` (Linux /proc), parents before their children."""
    from testgenie.orchestrator.phases.containment import descendants

    return descendants(root)


def freeze_children() -> list[int]:
    """SIGSTOP every descendant (the commands in-flight runs had started), except PostgreSQL's."""
    victims = [pid for pid in child_pids(os.getpid()) if not _is_postgres(pid)]
    for pid in victims:
        _signal(pid, signal.SIGSTOP)
    return victims


def _is_postgres(pid: int) -> bool:
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return name.startswith(("postgres", "pg_ctl"))


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def stack_services(settings: Settings) -> Services:
    """The stack's services: bootstrap's, with the stack's artifact store (its signed upload route)."""
    from testgenie import bootstrap

    from testgenie_local.uploads import stack_artifact_store

    return bootstrap.build(settings, artifacts=stack_artifact_store(settings))
