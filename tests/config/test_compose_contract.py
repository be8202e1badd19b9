"""The Docker path, checked without a Docker engine.

docker-compose.yml is read as Compose reads it (YAML merge keys, `${VAR:-default}` /
`${VAR:?error}` interpolation, docker-compose.prod.yml merged over it), and every service
built from our image runs its own command, with its compose environment, on this machine:
hosts rewritten to a PostgreSQL database and a Redis server of the test's own, ports to free
ones. Each long-running one must then pass its own compose healthcheck (beat's, which reads
what Celery writes every 3 minutes, once beat has stopped and written it). The static parts of
the contract (Dockerfile, .dockerignore, ports, the production variant's secrets) are read
from the files.
"""
from __future__ import annotations

import fnmatch
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_PRODUCTION = ROOT / "docker-compose.prod.yml"
PRODUCTION_ENV_EXAMPLE = ROOT / ".env.production.example"
VENV_BIN = Path(sys.executable).parent
PRODUCTION_REQUIRED = {"SECRET_KEY", "METRICS_TOKEN", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
                       "ALLOWED_HOSTS"}


# --- Compose, as Compose reads it -------------------------------------------------------------

class ComposeError(Exception):
    pass


_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
                       r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def compose_interpolate(value, env: dict, missing: list):
    """Compose's rules: `$$` is a `$`; `${V:-d}` d when V is unset or empty, `${V-d}` when unset;
    `${V:?e}` / `${V?e}` refuse; `${V:+a}` a when V is set and non-empty."""
    if isinstance(value, dict):
        return {key: compose_interpolate(item, env, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [compose_interpolate(item, env, missing) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset_or_empty = not current
        if op in (":-", "-"):
            return arg if (unset_or_empty if op == ":-" else current is None) else current
        if op in (":?", "?"):
            if unset_or_empty if op == ":?" else current is None:
                missing.append(f"{name}: {arg}")
                return ""
            return current
        if op in (":+", "+"):
            return "" if (unset_or_empty if op == ":+" else current is None) else arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


_REPLACED = {"command", "entrypoint", "test"}  # sequences an override replaces; others it appends to


def compose_merge(base, override, key: str | None = None):
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = compose_merge(base[name], value, name) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED:
        return base + [item for item in override if item not in base]
    return override


def compose_load(*paths: Path, env: dict) -> dict:
    missing: list[str] = []
    project: dict = {}
    for path in paths:
        document = compose_interpolate(yaml.safe_load(path.read_text()), env, missing)
        project = compose_merge(project, {k: v for k, v in document.items() if not k.startswith("x-")})
    if missing:
        raise ComposeError("required variables unset: " + "; ".join(missing))
    return project


def app_services(project: dict) -> dict:
    """The services built from this repository's Dockerfile."""
    return {name: service for name, service in project["services"].items() if "build" in service}


def long_running(project: dict) -> dict:
    return {name: service for name, service in project["services"].items() if service.get("restart") != "no"}


def env_file_read(path: Path) -> dict:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def production_env(**overrides) -> dict:
    """The example env file with every required value filled in, as an operator would."""
    env = env_file_read(PRODUCTION_ENV_EXAMPLE)
    env.update({name: f"{name.lower().replace('_', '-')}-{os.urandom(12).hex()}" for name in PRODUCTION_REQUIRED})
    env["ALLOWED_HOSTS"] = "offers.example.com"
    env.update(overrides)
    return env


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def dockerignore_excludes(relative_path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a pattern matches a
    path or any of its parent directories."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")]
    parts = relative_path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        variants = {pattern, pattern[3:]} if pattern.startswith("**/") else {pattern}
        if any(fnmatch.fnmatchcase(candidate, variant) or fnmatch.fnmatchcase(candidate, "*/" + variant)
               for candidate in candidates for variant in variants if variant):
            excluded = not negate
    return excluded


# --- The static contract ------------------------------------------------------------------------

def test_a_fresh_clone_resolves_without_any_variable_to_the_local_only_secret_production_refuses():
    # given: no .env, nothing exported
    project = compose_load(COMPOSE, env={})

    # then: every app process gets the settings' own local-only key, never an empty one
    from config.settings.base import DEFAULT_SECRET_KEY

    for name, service in app_services(project).items():
        environment = service["environment"]
        assert environment["SECRET_KEY"] == DEFAULT_SECRET_KEY, name
        assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.local", name


def test_the_dockerfile_collects_static_files_and_runs_as_an_unprivileged_user():
    # given
    instructions = dockerfile_instructions()
    kinds = [kind for kind, _ in instructions]

    # then: collected after the code is copied in, before the user switch (the files stay read-only)
    copy_all = max(i for i, (kind, arg) in enumerate(instructions) if kind == "COPY" and arg.split()[0] == ".")
    collect = [i for i, (kind, arg) in enumerate(instructions) if kind == "RUN" and "collectstatic" in arg]
    assert collect and collect[0] > copy_all
    users = [i for i, kind in enumerate(kinds) if kind == "USER"]
    assert users, "the image runs as root"
    final_user = instructions[users[-1]][1].split(":")[0]
    assert final_user not in {"root", "0"}
    assert users[-1] < kinds.index("CMD") and collect[0] < users[-1]


def test_the_build_context_leaves_out_the_local_environment_and_data():
    for path in [".venv/bin/python", ".run/dev/pg/PG_VERSION", ".run/static/admin/css/base.css", ".git/HEAD",
                 "accounts/__pycache__/models.cpython-311.pyc", ".env", ".env.production",
                 "bench/results/run.json"]:
        assert dockerignore_excludes(path), path
    for path in ["manage.py", "config/settings/base.py", "requirements.txt", "monitoring/prometheus/alerts.yml"]:
        assert not dockerignore_excludes(path), path


@pytest.mark.parametrize("variant", ["local", "production"])
def test_published_ports_are_on_the_loopback_and_every_long_running_service_has_a_healthcheck(variant):
    # given
    paths = (COMPOSE,) if variant == "local" else (COMPOSE, COMPOSE_PRODUCTION)
    project = compose_load(*paths, env={} if variant == "local" else production_env())

    # then
    for name, service in project["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
    for name, service in long_running(project).items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"} and not service["healthcheck"].get("disable"), name
    assert set(long_running(project)) >= {"web", "worker", "notifications-worker", "beat", "postgres", "redis"}


def test_web_stops_after_its_longest_request_can_finish():
    # given
    config = ROOT / "config" / "gunicorn.conf.py"
    namespace: dict = {"__file__": str(config)}  # as gunicorn runs it
    exec(compile(config.read_text(), str(config), "exec"), namespace)
    web = compose_load(COMPOSE, env={})["services"]["web"]

    # then: a long-poll finishes inside gunicorn's grace, and Docker waits for gunicorn
    assert namespace["graceful_timeout"] > settings.LONG_POLL_MAX_SECONDS
    assert int(web["stop_grace_period"].rstrip("s")) > namespace["graceful_timeout"]


@pytest.mark.parametrize("variant", ["local", "production"])
def test_grafana_has_no_anonymous_access_and_its_admin_password_from_the_environment(variant):
    # given
    paths = (COMPOSE,) if variant == "local" else (COMPOSE, COMPOSE_PRODUCTION)
    env = production_env() if variant == "production" else {"GRAFANA_ADMIN_PASSWORD": "chosen-by-operator"}

    # when
    grafana = compose_load(*paths, env=env)["services"]["grafana"]["environment"]

    # then
    assert str(grafana.get("GF_AUTH_ANONYMOUS_ENABLED", "false")).lower() == "false"
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == env["GRAFANA_ADMIN_PASSWORD"]


def test_the_production_variant_refuses_to_start_without_each_secret():
    # when
    with pytest.raises(ComposeError) as refused:
        compose_load(COMPOSE, COMPOSE_PRODUCTION, env={})

    # then: one message names every missing variable
    for name in PRODUCTION_REQUIRED:
        assert f"{name}:" in str(refused.value), name


def test_the_production_variant_has_no_default_secret_no_demo_data_and_sends_the_metrics_token():
    # given
    env = production_env()
    local_defaults = compose_load(COMPOSE, env={})
    project = compose_load(COMPOSE, COMPOSE_PRODUCTION, env=env)

    # then: every app process runs production settings with the operator's secrets only
    for name, service in app_services(project).items():
        environment = service["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production", name
        assert environment["SECRET_KEY"] == env["SECRET_KEY"], name
        assert environment["METRICS_TOKEN"] == env["METRICS_TOKEN"], name
        assert urlsplit(environment["DATABASE_URL"]).password == env["POSTGRES_PASSWORD"], name
        assert urlsplit(environment["REDIS_URL"]).password == env["REDIS_PASSWORD"], name
        assert "seed_demo" not in " ".join(service["command"]), name
    assert project["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == env["POSTGRES_PASSWORD"]
    assert env["REDIS_PASSWORD"] in project["services"]["redis"]["command"]
    local_secrets = {local_defaults["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"],
                     local_defaults["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"],
                     local_defaults["services"]["web"]["environment"]["SECRET_KEY"]}
    resolved = yaml.safe_dump(project)
    for secret in local_secrets:
        assert secret not in resolved, secret

    # and: Prometheus reads the token from a secret that holds METRICS_TOKEN
    prometheus = project["services"]["prometheus"]
    assert prometheus["secrets"] == ["metrics_token"]
    assert project["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    config_file = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file="))
    mounts = dict(reversed(volume.split(":")[:2]) for volume in prometheus["volumes"])
    config = yaml.safe_load((ROOT / mounts[config_file]).read_text())
    web_job = next(job for job in config["scrape_configs"] if job["job_name"] == "web")
    assert web_job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"

    # and: the same jobs, targets, Alertmanager and rules as the local Prometheus
    local = yaml.safe_load((ROOT / "monitoring" / "prometheus" / "prometheus.yml").read_text())
    strip = lambda jobs: [{k: v for k, v in job.items() if k != "authorization"} for job in jobs]  # noqa: E731
    assert strip(config["scrape_configs"]) == strip(local["scrape_configs"])
    assert config["alerting"] == local["alerting"]
    mounted_dirs = {target: source for target, source in mounts.items()}
    for rule_file in config["rule_files"]:
        directory, _, file_name = rule_file.rpartition("/")
        assert (ROOT / mounted_dirs[directory] / file_name).is_file(), rule_file


def test_the_production_prometheus_config_is_valid(tmp_path):
    # given: the container paths, rewritten to files here
    config = (ROOT / "docker" / "prometheus.production.yml").read_text()
    (tmp_path / "metrics_token").write_text("x" * 32)
    config = config.replace("/run/secrets/metrics_token", str(tmp_path / "metrics_token"))
    config = config.replace("/etc/prometheus/", str(ROOT / "monitoring" / "prometheus") + "/")
    (tmp_path / "prometheus.yml").write_text(config)

    # when
    result = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=30)

    # then
    assert result.returncode == 0, result.stdout + result.stderr


def mounted_host_path(service: dict, flag: str) -> Path:
    """The file on this machine that a container reads as the value of its `flag` argument,
    through the service's bind mounts (the most specific one wins)."""
    inside = next(arg.split("=", 1)[1] for arg in service["command"] if arg.startswith(flag))
    binds = [volume.split(":")[:2] for volume in service["volumes"] if volume.startswith(("./", "/"))]
    source, target = max(((s, t) for s, t in binds if inside == t or inside.startswith(t.rstrip("/") + "/")),
                         key=lambda bind: len(bind[1]))
    return (ROOT / source).resolve() / inside[len(target):].lstrip("/") if inside != target else (ROOT / source).resolve()


@pytest.mark.parametrize("variant", ["local", "production"])
def test_prometheus_sends_alerts_to_the_alertmanager_service_and_its_config_passes_amtool(variant):
    # given
    paths = (COMPOSE,) if variant == "local" else (COMPOSE, COMPOSE_PRODUCTION)
    services = compose_load(*paths, env={} if variant == "local" else production_env())["services"]
    prometheus, alertmanager = services["prometheus"], services["alertmanager"]

    # then: the Prometheus config the container reads names the alertmanager service and its port
    prometheus_config = yaml.safe_load(mounted_host_path(prometheus, "--config.file=").read_text())
    targets = [target for manager in prometheus_config["alerting"]["alertmanagers"]
               for static in manager["static_configs"] for target in static["targets"]]
    assert targets == ["alertmanager:9093"]
    assert "alertmanager" in prometheus["depends_on"]
    assert alertmanager["ports"] == ["127.0.0.1:9093:9093"]
    assert "--cluster.listen-address=" in alertmanager["command"]
    # and the config the Alertmanager container reads passes amtool
    config = mounted_host_path(alertmanager, "--config.file=")
    assert config == ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
    checked = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_production_alertmanager_reads_the_operators_config_when_given():
    # when
    services = compose_load(COMPOSE, COMPOSE_PRODUCTION,
                            env=production_env(ALERTMANAGER_CONFIG="/etc/offers/alertmanager.yml"))["services"]

    # then
    assert mounted_host_path(services["alertmanager"], "--config.file=") == Path("/etc/offers/alertmanager.yml")


# --- Every service's own command, with its compose environment ------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _image_env() -> dict:
    """What the image gives every process: the Dockerfile's ENV, a PATH with the requirements."""
    env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for kind, arg in dockerfile_instructions():
        if kind == "ENV":
            for item in shlex.split(arg):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def healthcheck_run(test: list[str], env: dict) -> subprocess.CompletedProcess:
    """A compose healthcheck `test`, as Docker runs it inside the container."""
    command = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


class Container:
    """One service's command as a process, in its own session (killed with its children)."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path):
        self.name, self.env, self.log = name, env, log
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def healthcheck(self, test: list[str]) -> subprocess.CompletedProcess:
        return healthcheck_run(test, self.env)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    """A Redis of this module's own: its workers must not take the suite's worker's messages."""
    tmp_path = tmp_path_factory.mktemp("redis")
    port = _free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, "redis did not start"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def scratch_database():
    """An empty database on the test's PostgreSQL server, as a fresh compose volume is (the
    production test after the fresh-clone one finds it migrated, as after a switch to it)."""
    server = urlsplit(os.environ.get("DATABASE_URL", settings.DATABASE_URL))
    name = f"compose_contract_{os.getpid()}"
    admin = urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(server._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def web_healthcheck(web: dict, port: int) -> list[str]:
    """web's healthcheck, asking the port the test gave it instead of the container's."""
    container_port = web["ports"][0].rsplit(":", 1)[1]
    return [part.replace(f"127.0.0.1:{container_port}/", f"127.0.0.1:{port}/") for part in web["healthcheck"]["test"]]


def service_env(service: dict, *, database_url: str, redis_url: str, tmp_path: Path, name: str) -> dict:
    """The container's environment with the compose hosts rewritten to the test's servers."""
    env = _image_env()
    env.update({key: str(value) for key, value in service.get("environment", {}).items()})
    env["HOME"] = str(tmp_path)
    env["HOSTNAME"] = socket.gethostname()  # what Docker sets, and what Celery's %h reads
    if "DATABASE_URL" in env:
        env["DATABASE_URL"] = database_url
    if "REDIS_URL" in env:
        env["REDIS_URL"] = redis_url
    if "PROMETHEUS_MULTIPROC_DIR" in env:  # a tmpfs in compose
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / f"metrics-{name}")
        Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
    if env.get("WORKER_METRICS_PORT"):
        env.update(WORKER_METRICS_PORT=str(_free_port()), WORKER_METRICS_ADDR="127.0.0.1")
    return env


def test_every_service_starts_from_a_fresh_clone_and_passes_its_healthcheck(tmp_path, private_redis,
                                                                            scratch_database):
    # given: `docker compose up` with no .env, against an empty database
    project = compose_load(COMPOSE, env={})
    services = app_services(project)
    envs = {name: service_env(service, database_url=scratch_database, redis_url=private_redis, tmp_path=tmp_path,
                              name=name) for name, service in services.items()}
    web_port = _free_port()
    envs["web"].update(HOST="127.0.0.1", PORT=str(web_port))

    # and: the image build's static files step, with no database, Redis or secret around
    collect = next(arg for kind, arg in dockerfile_instructions() if kind == "RUN" and "collectstatic" in arg)
    built = subprocess.run(["sh", "-c", collect], cwd=ROOT, env=_image_env(), capture_output=True, text=True,
                           timeout=60)
    assert built.returncode == 0, built.stdout + built.stderr

    # when: the one-shot service runs to completion first (depends_on: service_completed_successfully)
    one_shot = [name for name, service in services.items() if service.get("restart") == "no"]
    assert one_shot == ["migrate"]
    migrate = subprocess.run(services["migrate"]["command"], cwd=ROOT, env=envs["migrate"], capture_output=True,
                             text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-3000:]
    # and: beat's check fails while beat has sent nothing
    assert healthcheck_run(services["beat"]["healthcheck"]["test"], envs["beat"]).returncode != 0

    # and: every long-running one starts
    containers = {name: Container(name, service["command"], envs[name], tmp_path / f"{name}.log")
                  for name, service in services.items() if name not in one_shot}
    try:
        # then: each passes its own healthcheck within its start period. Beat's first periodic
        # write is 3 minutes away: its check is run once it has stopped (it writes on the way out).
        pending = {name for name in containers if name != "beat"}
        last: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                container = containers[name]
                assert container.process.poll() is None, f"{name} exited:\n{container.output()}"
                test = (web_healthcheck(services[name], web_port) if name == "web"
                        else services[name]["healthcheck"]["test"])
                result = container.healthcheck(test)
                if result.returncode == 0:
                    pending.discard(name)
                last[name] = result.stdout[-500:] + result.stderr[-1500:]
            time.sleep(0.5)
        assert not pending, {name: (last.get(name), containers[name].output()) for name in pending}

        # and: the web image serves the admin's and Swagger's static files
        base = f"http://127.0.0.1:{web_port}"
        assert requests.get(f"{base}/static/admin/css/base.css", timeout=10).status_code == 200
        assert requests.get(f"{base}/static/drf-yasg/swagger-ui-dist/swagger-ui-bundle.js",
                            timeout=10).status_code == 200

        # and: beat's check reads what beat wrote
        assert containers["beat"].process.poll() is None, containers["beat"].output()
        containers["beat"].stop()
        beat_check = containers["beat"].healthcheck(services["beat"]["healthcheck"]["test"])
        assert beat_check.returncode == 0, beat_check.stderr[-2000:] + containers["beat"].output()
    finally:
        for container in containers.values():
            container.stop()


def test_docker_counts_beats_healthcheck_only_after_celerys_first_write():
    # given
    beat = compose_load(COMPOSE, env={})["services"]["beat"]

    # then: Celery writes the schedule 3 minutes after start (then every 3 minutes, and at exit)
    assert int(beat["healthcheck"]["start_period"].rstrip("s")) > 180


def test_the_production_variant_starts_with_the_operators_env_file(tmp_path, private_redis, scratch_database):
    # given: docker compose --env-file .env.production -f docker-compose.yml -f docker-compose.prod.yml
    env = production_env()
    services = app_services(compose_load(COMPOSE, COMPOSE_PRODUCTION, env=env))
    envs = {name: service_env(services[name], database_url=scratch_database, redis_url=private_redis,
                              tmp_path=tmp_path, name=name) for name in ("migrate", "web")}
    web_port = _free_port()
    envs["web"].update(HOST="127.0.0.1", PORT=str(web_port))

    # when: the variant's migrate command and, beside it, Django's deployment checks; then web
    checks = subprocess.Popen([str(VENV_BIN / "python"), "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
                              cwd=ROOT, env=envs["web"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    migrate = subprocess.run(services["migrate"]["command"], cwd=ROOT, env=envs["migrate"], capture_output=True,
                             text=True, timeout=120)
    checks_output = checks.communicate(timeout=60)[0]
    assert checks.returncode == 0, checks_output
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-3000:]
    web = Container("web", services["web"]["command"], envs["web"], tmp_path / "web.log")
    try:
        # then: healthy under production settings (the check's own host is allowed, not redirected)
        test = web_healthcheck(services["web"], web_port)
        deadline = time.monotonic() + 40
        while (result := web.healthcheck(test)).returncode != 0:
            assert web.process.poll() is None and time.monotonic() < deadline, result.stderr[-1500:] + web.output()
            time.sleep(0.5)

        # and: /metrics answers Prometheus's request (Host web:8000) only with the metrics token
        metrics = f"http://127.0.0.1:{web_port}/metrics"
        assert requests.get(metrics, headers={"Host": "web:8000"}, timeout=10).status_code == 401
        answer = requests.get(metrics, headers={"Host": "web:8000", "Authorization": f"Bearer {env['METRICS_TOKEN']}"},
                              timeout=30)
        assert answer.status_code == 200 and "offers_" in answer.text
    finally:
        web.stop()
