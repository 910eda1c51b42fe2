"""The files of deploy/: read here, checked by the tools that will read them on a server
(systemd-analyze verify, nginx -t, logrotate; Debian's packages, installed by `make test`'s set-up
when it runs as root), and the nginx site run for real in front of the app."""
from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
import urllib3
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from waitress import create_server

from bot import migrations
from bot.app import MAX_BODY_BYTES
from bot.config import REPO_ROOT, Settings
from bot.run import services
from bot.supervisor import REFUSED
from tests.conftest import free_port, load_fixture, wait_until, zalo_signature
from webhooks.blueprint import MAX_EVENT_BYTES

pytestmark = pytest.mark.slow  # not in `make test-fast`: systemd-analyze, nginx, the app behind nginx

DEPLOY = REPO_ROOT / "deploy"
UNITS = DEPLOY / "systemd"
SITE = DEPLOY / "nginx" / "tongdai1022.conf"
INSTALLED = "/opt/tongdai1022"
PYTHON = f"{INSTALLED}/.venv/bin/python"
SETTINGS_NOT_FOR_SERVERS = {"BENCH_BARE_ENDPOINT"}  # `make bench` only


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section -> key -> values (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def read_settings() -> set[str]:
    source = (REPO_ROOT / "bot" / "config.py").read_text()
    return set(re.findall(r'(?:get|_generated)\("([A-Z_]+)"', source)) - SETTINGS_NOT_FOR_SERVERS


def test_the_env_template_and_the_readme_name_every_setting():
    template = {line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines()
                if re.match(r"[A-Z_]+=", line)}
    assert template == read_settings()
    readme_table = set(re.findall(r"`([A-Z_]+)`", "\n".join(line for line in (REPO_ROOT / "README.md").read_text()
                                                            .splitlines() if line.startswith("| `"))))
    assert read_settings() <= readme_table
    # What the template sets for a server behind nginx.
    values = dict(line.split("=", 1) for line in (DEPLOY / "env.example").read_text().splitlines()
                  if re.match(r"[A-Z_]+=", line))
    assert (values["TRUST_PROXY"], values["SECURE_COOKIES"], values["VAR_DIR"]) == ("1", "1", "/var/lib/tongdai1022")
    assert Settings.from_env(values).port == 5000


def test_the_units_run_the_services_make_run_starts():
    every = {path.name: unit(path) for path in UNITS.iterdir()}
    target = every.pop("tongdai1022.target")
    wanted = {name for line in target["Unit"]["Wants"] for name in line.split()}
    assert wanted == {name.replace("@.", "@1.") for name in every} - {"tongdai1022-backup.service",
                                                                      "tongdai1022-retention.service"}  # their timers
    names = {re.sub(r"\d+$", "", name) for name, _ in services(Settings.from_env({"BACKUP_AT": "off", "RETENTION_AT": "off"}))}
    run_as = {}
    for name, sections in every.items():
        service = sections.get("Service")
        if service is None:
            continue
        [command] = service["ExecStart"]
        assert command.startswith(f"{PYTHON} -m "), name
        assert service["User"] == ["tongdai"] and service["WorkingDirectory"] == [INSTALLED], name
        run_as[name] = command.removeprefix(f"{PYTHON} -m ")
        logs = {service["StandardOutput"][0], service["StandardError"][0]}
        assert len(logs) == 1 and re.fullmatch(r"append:/var/log/tongdai1022/[\w%-]+\.log", logs.pop()), name
        if service.get("Type") != ["oneshot"]:
            assert service["Restart"] == ["always"], name
        if "--service web" in command or "--service worker" in command:
            assert service["RestartPreventExitStatus"] == [str(REFUSED)], name
            assert "tongdai1022-prepare.service" in sections["Unit"]["Requires"][0].split(), name
    assert {c.removeprefix("bot.run --service ") for c in run_as.values() if "--service" in c} == names
    assert run_as["tongdai1022-prepare.service"] == "bot.run --prepare"
    assert run_as["tongdai1022-backup.service"] == "bot.backup create"
    timer = every["tongdai1022-backup.timer"]["Timer"]
    assert timer["OnCalendar"] == [f"*-*-* {Settings.from_env({}).backup_at}:00 Asia/Ho_Chi_Minh"]
    assert run_as["tongdai1022-retention.service"] == "bot.retention"
    timer = every["tongdai1022-retention.timer"]["Timer"]
    assert timer["OnCalendar"] == [f"*-*-* {Settings.from_env({}).retention_at}:00 Asia/Ho_Chi_Minh"]


def test_a_unit_s_command_becomes_its_service_and_prepare_migrates(tmp_path):
    from tests.test_backup import system
    settings, env = system(tmp_path)
    run = [sys.executable, "-m", "bot.run"]
    database = subprocess.Popen([*run, "--service", "database"], cwd=REPO_ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = MongoClient(settings.database_uri, serverSelectionTimeoutMS=500)
    try:
        def answers():
            assert database.poll() is None
            try:
                return client.admin.command("ping")
            except PyMongoError:
                return None

        wait_until(answers, 30, "the database started by its unit's command")
        # exec: systemd's main pid is the server itself, not a launcher waiting for it
        assert "bot.embedded_db" in Path(f"/proc/{database.pid}/cmdline").read_text()
        stale = settings.var_dir / "metrics" / "counter_1234.db"
        stale.parent.mkdir(parents=True, exist_ok=True)
        stale.write_bytes(b"from the last run")
        prepared = subprocess.run([*run, "--prepare"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                  timeout=120)
        assert prepared.returncode == 0, prepared.stderr
        assert migrations.database_version(client.get_default_database()) == migrations.code_version()
        assert list((settings.var_dir / "metrics").iterdir()) == [] and (settings.var_dir / "secret_key").is_file()
        unknown = subprocess.run([*run, "--service", "mail"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        assert unknown.returncode != 0 and "there are: database, nlu, web, worker" in unknown.stderr
    finally:
        client.close()
        database.terminate()
        database.wait(timeout=30)


def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # Installed at /opt/tongdai1022 on a server; here the commands must exist at this checkout.
    for path in UNITS.iterdir():
        (tmp_path / path.name).write_text(path.read_text().replace(INSTALLED, str(REPO_ROOT)))
    verified = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr  # warnings too


def test_the_logrotate_rules_rotate_a_log_that_is_being_written(tmp_path):
    if not shutil.which("logrotate"):
        pytest.skip("logrotate is not installed (Debian package logrotate)")
    logs, lib = tmp_path / "log", tmp_path / "lib"
    logs.mkdir(mode=0o755)
    lib.mkdir(mode=0o755)
    rules = (DEPLOY / "logrotate" / "tongdai1022").read_text()
    assert "/var/log/tongdai1022/*.log" in rules and "/var/lib/tongdai1022/db.log" in rules
    config = tmp_path / "rules"
    config.write_text(rules.replace("/var/log/tongdai1022", str(logs)).replace("/var/lib/tongdai1022", str(lib))
                      .replace("su tongdai tongdai", "su root root"))
    log = logs / "web.log"
    with open(log, "a") as service:  # as systemd's StandardOutput=append: holds it
        service.write('{"message": "before"}\n')
        service.flush()
        rotated = subprocess.run(["logrotate", "-v", "-f", "-s", str(tmp_path / "state"), str(config)],
                                 capture_output=True, text=True, timeout=60)
        assert rotated.returncode == 0 and "error" not in rotated.stderr.lower(), rotated.stderr
        service.write('{"message": "after"}\n')
    assert (logs / "web.log.1").read_text() == '{"message": "before"}\n'
    assert log.read_text() == '{"message": "after"}\n'  # the same open file, emptied in place


# ---- nginx ----------------------------------------------------------------------------------------

def certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=1022.example.gov.vn", "-keyout", str(key), "-out", str(cert)], check=True,
                   capture_output=True, timeout=60)
    return cert, key


def nginx_config(folder: Path, site: str) -> Path:
    """A main nginx.conf around `site`, everything nginx writes kept in `folder`."""
    (folder / "site.conf").write_text(site)
    main = folder / "nginx.conf"
    temp = " ".join(f"{kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main.write_text(f"daemon off;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{}}\n"
                    f"http {{ access_log off; {temp} include {folder}/site.conf; }}\n")
    return main


def shipped_site(cert: Path, key: Path) -> str:
    site = SITE.read_text()
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    return re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)


@pytest.fixture
def nginx(tmp_path):
    if not shutil.which("nginx") or not shutil.which("openssl"):
        pytest.skip("nginx is not installed (Debian package nginx-light)")
    return certificate(tmp_path)


def test_nginx_accepts_the_site(nginx, tmp_path):
    site = shipped_site(*nginx)
    assert f"client_max_body_size {MAX_BODY_BYTES // 2**20}m;" in site  # the app's own limits
    assert f"client_max_body_size {MAX_EVENT_BYTES // 2**20}m;" in site
    assert f"server 127.0.0.1:{Settings.from_env({}).port};" in site
    checked = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(nginx_config(tmp_path, site))],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr


def test_the_nginx_site_serves_the_app_over_tls(nginx, app, repository, tmp_path):
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    server = create_server(app, host="127.0.0.1", port=app_port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    site = shipped_site(*nginx).replace("server 127.0.0.1:5000;", f"server 127.0.0.1:{app_port};")
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)  # no IPv6 needed here
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ", f"listen 127.0.0.1:{https_port} ")
    process = subprocess.Popen(["nginx", "-p", str(tmp_path), "-c", str(nginx_config(tmp_path, site))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"https://127.0.0.1:{https_port}"
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    https = requests.Session()
    https.request = functools.partial(https.request, verify=False)  # self-signed; a session's verify loses to REQUESTS_CA_BUNDLE
    try:
        def up():
            assert process.poll() is None, process.stderr.read()
            try:
                answer = https.get(f"{base}/healthz", timeout=2)
            except requests.ConnectionError:
                return None
            print(answer.status_code, answer.text[:300])
            return [answer] if answer.status_code != 502 else None  # 502: nginx up, the app not yet

        [health] = wait_until(up, 30, "nginx in front of the app")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ids = {health.headers["X-Request-Id"], https.get(f"{base}/healthz", timeout=5).headers["X-Request-Id"]}
        assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)  # nginx's $request_id
        assert health.headers["Strict-Transport-Security"] == "max-age=31536000"

        plain = requests.get(f"http://127.0.0.1:{http_port}/console/", allow_redirects=False, timeout=5)
        assert plain.status_code == 301 and plain.headers["Location"] == f"https://127.0.0.1/console/"
        assert https.get(f"{base}/console/", allow_redirects=False, timeout=5).status_code in (200, 302)
        assert https.get(f"{base}/metrics", timeout=5).status_code == 403
        # One address's sign-in flood stops at nginx (30 a minute, a burst of 10) before the app
        posts = [https.post(f"{base}/console/login", data={"username": "admin", "password": "x"}, timeout=5)
                 for _ in range(14)]
        assert {p.status_code for p in posts[:5]} == {400}  # the app's answer: no CSRF token
        assert posts[-1].status_code == 429 and "nginx" in posts[-1].text

        event = load_fixture("zalo", "user_send_text")
        body = json.dumps(event).encode()
        stored = https.post(f"{base}/webhooks/zalo", data=body, timeout=5, headers={
            "Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)})
        assert stored.status_code == 200 and stored.json()["stored"] == 1
        assert repository.messages.find_one({"direction": "in"})["correlation_id"] == stored.headers["X-Request-Id"]
        too_big = https.post(f"{base}/webhooks/zalo", data=b"{" + b" " * (2 * 2**20) + b"}", timeout=30,
                             headers={"Content-Type": "application/json"})
        assert too_big.status_code == 413 and "nginx" in too_big.text  # refused before the app
        assert repository.messages.count_documents({}) == 1
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.close()
