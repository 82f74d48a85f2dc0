"""`offgate demo`: the whole product in a throw-away home, in about half a minute.

A fake provider and a fake LiteLLM gateway run on loopback; the real interceptor sits
between them and a real HTTP client. Three weeks of ordinary usage are imported first (as
`offgate events import` would), then today's traffic goes through the interceptor, via the
gateway and around it, including a burst of costly calls. LiteLLM's spend sample is
imported, calls are reconciled, the report is written, alerts are raised and sent to a
local webhook (and the desktop, when there is one); it ends by saying where to look.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from offgate.cli.common import app, err, fail, out
from offgate.config import device_name
from offgate.errors import EXIT_FAILED
from offgate.vocabulary import GATEWAY, UNMANAGED

HISTORY_DAYS = 21
SPEND_SAMPLE = "litellm-spend-sample.jsonl"
REPORT_FILE = "report.html"
# (model, user agent, prompt characters, max_tokens, calls): today's traffic around the gateway.
DIRECT_TRAFFIC = [
    ("gpt-4o-mini", "python-httpx/0.28", 400, 60, 3),
    ("claude-sonnet-4-5-20250929", "claude-cli/2.0.14 (external, cli)", 2_000, 400, 2),
    ("gpt-4o", "python-httpx/0.28", 600_000, 2_000, 6),  # the burst: ~150k prompt tokens each
]
GATEWAY_TRAFFIC = ("gpt-4o-mini", 800, 120, 4)


@dataclass
class DemoWorld:
    """The loopback stand-ins and what they saw."""

    home: Path
    servers: list[Any] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


@app.command()
def demo(
    home: Annotated[Path | None, typer.Option(
        "--demo-home", file_okay=False,
        help="Where to keep the demo's data (default: a new temporary folder).")] = None,
) -> None:
    """A self-contained tour: fake provider and gateway, real interceptor, report, alert, notification."""
    home = (home or Path(tempfile.mkdtemp(prefix="offgate-demo-"))).absolute()
    if home.exists() and any(home.iterdir()):
        fail(f"{home} is not empty: the demo needs a fresh folder")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    world = DemoWorld(home)
    try:
        _tour(world)
    except Exception as exc:  # a demo that breaks says so plainly and leaves its folder to look at
        err.print(f"the demo stopped: {type(exc).__name__}: {exc}\nits data is in {home}", markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        world.stop()


def _tour(world: DemoWorld) -> None:
    from analytics.reconcile import reconcile
    from analytics.report.model import build_report
    from analytics.report.render import render
    from offgate.config import database_url_for, load_settings
    from offgate.store import Store
    from offgate.store.spend import SpendLog

    gateway, provider_port, gateway_url, webhook_url = _start_fakes(world)
    _write_config(world, gateway_url, webhook_url)
    settings = load_settings(world.home)
    store = Store.open(database_url_for(settings, world.home))
    try:
        _step(f"1. a throw-away home: {world.home}")
        added = store.add(_history(datetime.now(UTC)))
        _step(f"2. imported {added} calls of ordinary usage over the last {HISTORY_DAYS} days")
        direct, via_gateway = _send_traffic(world, provider_port, gateway_url)
        _step(f"3. sent {direct} calls straight to OpenAI and Anthropic and {via_gateway} through the LiteLLM "
              "gateway, all through the interceptor")
        _import_spend(world, gateway, SpendLog(store))
        _step(f"4. imported LiteLLM's spend sample: {len(gateway.spend_rows)} rows ({world.home / SPEND_SAMPLE})")
        summary = reconcile(store, settings.reconcile)
        _step(f"5. reconciled {summary.calls} calls: {summary.classes[GATEWAY]} via the gateway, "
              f"{summary.classes[UNMANAGED]} unmanaged")
        now = datetime.now(UTC)
        document = build_report(store, now - timedelta(days=1), now, "app")
        (world.home / REPORT_FILE).write_text(render(document, "html"), encoding="utf-8")
        _step("6. the unmanaged-usage report for the last day, by app:")
        out.print(render(document, "table"), markup=False)
    finally:
        store.close()
    _alert_and_notify(world, settings)
    _step(f"HTML report: {world.home / REPORT_FILE}")
    _step(f"dashboard:   offgate --home {world.home} dashboard   (or `up` to run everything)")


def _start_fakes(world: DemoWorld) -> tuple[Any, int, str, str]:
    from offgate.demo.provider import DemoGateway, provider_app, webhook_app
    from offgate.demo.threaded_server import ThreadedServer

    provider = ThreadedServer()
    world.servers.append(provider)
    provider_port = provider.serve(provider_app())
    gateway = DemoGateway()
    gateway_server = ThreadedServer()
    world.servers.append(gateway_server)
    gateway_url = f"http://127.0.0.1:{gateway_server.serve(gateway.app())}"
    receiver = ThreadedServer()
    world.servers.append(receiver)
    webhook_url = f"http://127.0.0.1:{receiver.serve(webhook_app(world.notifications))}/hook"
    return gateway, provider_port, gateway_url, webhook_url


def _write_config(world: DemoWorld, gateway_url: str, webhook_url: str) -> None:
    """The gateway, and alerts of every severity to the demo's webhook (and the desktop, if
    this session has one)."""
    desktop = "true" if os.environ.get("DBUS_SESSION_BUS_ADDRESS") else "false"
    (world.home / "config.toml").write_text(
        "# Written by `offgate demo`.\n"
        "[proxy]\n"
        f"gateways = [{json.dumps(gateway_url)}]\n"
        "[notify]\n"
        'min_severity = "info"\n'
        f"desktop = {desktop}\n"
        "[notify.webhook]\n"
        f"url = {json.dumps(webhook_url)}\n",
        encoding="utf-8",
    )


def _alert_and_notify(world: DemoWorld, settings: Any) -> None:
    from analytics.watch import Watcher
    from offgate.config import database_url_for
    from offgate.store import Store
    from offgate.store.alerts import AlertStore

    url = database_url_for(settings, world.home)
    watcher = Watcher(url, settings)
    try:
        summary = watcher.tick()
    finally:
        watcher.close()
    _step(f"7. the watcher raised {summary.new_alerts} alerts and sent {summary.notifications.sent} "
          f"notifications ({', '.join(watcher.channels)}):")
    with Store.open(url) as store:
        for alert in AlertStore(store).alerts():
            _step(f"   [{alert.severity}] {alert.message}")
    for posted in world.notifications[:1]:
        _step(f"8. the webhook received, e.g.: {json.dumps({k: posted[k] for k in ('kind', 'severity', 'message')})}")


def _history(now: datetime) -> list[Any]:
    """A few small calls most working hours of the last weeks: the baseline alerts learn from."""
    from offgate.catalog.base import Usage
    from offgate.events import UsageEvent
    from offgate.pricing import cost_usd

    chance = random.Random(7)
    user, device = getpass.getuser(), device_name()
    start = (now - timedelta(days=HISTORY_DAYS)).replace(minute=0, second=0, microsecond=0)
    events = []
    for hour in range(HISTORY_DAYS * 24 - 2):  # up to two hours ago
        moment = start + timedelta(hours=hour)
        for _ in range(chance.choice((0, 1, 1, 2)) if 8 <= moment.hour < 19 else 0):
            prompt, completion = chance.randint(200, 900), chance.randint(40, 200)
            usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
            cost, note = cost_usd("gpt-4o-mini", "openai", usage, at=moment)
            events.append(UsageEvent(
                ts=moment + timedelta(minutes=chance.randint(0, 59)), source="import", provider="openai",
                endpoint="chat_completions", host="api.openai.com", path="/v1/chat/completions", model="gpt-4o-mini",
                status_code=200, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost, cost_note=note,
                process_name="python3", user=user, device=device,
            ))
    return events


def _send_traffic(world: DemoWorld, provider_port: int, gateway_url: str) -> tuple[int, int]:
    import httpx

    from interceptor.runner import BackgroundProxy

    upstream = f"http://127.0.0.1:{provider_port}/"
    proxy = BackgroundProxy(world.home, gateways=[gateway_url], set_options=[
        f"map_remote=!^https://api\\.(openai|anthropic)\\.com/!{upstream}",
    ]).start()
    direct = via_gateway = 0
    try:
        with httpx.Client(proxy=proxy.url, verify=str(proxy.ca_file), timeout=60) as client:
            for model, agent, characters, max_tokens, calls in DIRECT_TRAFFIC:
                for _ in range(calls):
                    _call(client, model, agent, characters, max_tokens)
                    direct += 1
            model, characters, max_tokens, calls = GATEWAY_TRAFFIC
            for _ in range(calls):
                _call(client, model, "python-httpx/0.28", characters, max_tokens, base=gateway_url)
                via_gateway += 1
    finally:
        proxy.stop()  # flushes every recorded call to the store
    return direct, via_gateway


def _call(client: Any, model: str, agent: str, characters: int, max_tokens: int, base: str | None = None) -> None:
    messages = [{"role": "user", "content": "x" * characters}]  # never stored: offgate keeps no prompt text
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens}
    if model.startswith("claude"):
        url = "https://api.anthropic.com/v1/messages"
        headers = {"x-api-key": "sk-ant-demo", "anthropic-version": "2023-06-01", "user-agent": agent}
    else:
        url = f"{base or 'https://api.openai.com'}/v1/chat/completions"
        headers = {"authorization": "Bearer sk-demo", "user-agent": agent}
        body.update(stream=True, stream_options={"include_usage": True})
    client.post(url, json=body, headers=headers).raise_for_status()


def _import_spend(world: DemoWorld, gateway: Any, spend_log: Any) -> None:
    from analytics.spend.importing import import_spend, open_source

    sample = world.home / SPEND_SAMPLE
    sample.write_text("".join(json.dumps(row) + "\n" for row in gateway.spend_rows), encoding="utf-8")
    import_spend(open_source(str(sample), key=None, since=None, until=None), spend_log, lambda done, total: None)


def _step(text: str) -> None:
    out.print(text, markup=False)

