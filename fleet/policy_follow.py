"""On a workstation: follow the central policy. Each push's acknowledgement names the
version in force at the collector; when it is not the one this store keeps, the agent
fetches it (`GET /v1/policy`), validates it as `offgate policy check` would, and keeps it in
the local store, where the proxy and the native host read it (offgate.store.policies). A
policy that does not validate here is never kept: the one in force stays."""

from __future__ import annotations

import json

import httpx
from pydantic import ValidationError

from fleet.enrolment import Enrolment
from fleet.transport import refusal, unreachable
from fleet.wire import POLICY_PATH, PolicyReply
from offgate.errors import OffgateError
from offgate.policy import PolicySettings, policy_document
from offgate.store import Store
from offgate.store.policies import AgentPolicy


class PolicyNotFetched(OffgateError):
    """The collector could not be asked for its policy now; the next push tries again."""


class PolicyRefused(OffgateError):
    """The central policy does not validate on this agent: it is not applied."""

    def __init__(self, version: str, message: str) -> None:
        super().__init__(message)
        self.version = version


def follow_policy(http: httpx.Client, enrolment: Enrolment, store: Store, version: str) -> str | None:
    """Keep the collector's policy if `version` is not the one kept; the version newly kept, or None."""
    agent = AgentPolicy(store)
    kept = agent.kept()
    if kept is not None and kept.version == version:
        return None
    headers = {"Authorization": f"Bearer {enrolment.credential}"}
    if kept is not None:
        headers["If-None-Match"] = f'"{kept.version}"'
    try:
        response = http.get(enrolment.collector + POLICY_PATH, headers=headers)
    except httpx.HTTPError as exc:
        raise PolicyNotFetched(unreachable(enrolment.collector, exc)) from None
    if response.status_code == 304:
        return None
    if response.status_code != 200:
        code, message = refusal(response)
        raise PolicyNotFetched(f"the collector did not give its policy ({code}): {message}")
    try:
        reply = PolicyReply.model_validate_json(response.content)
    except ValidationError:
        raise PolicyNotFetched(f"{enrolment.collector} answered for its policy, but not as an offgate collector "
                               "does") from None
    document = None if reply.policy is None else _validated(reply.version, json.dumps(reply.policy))
    agent.keep(reply.version, document)
    return reply.version


def _validated(version: str, document: str) -> str:
    try:
        return policy_document(PolicySettings.model_validate_json(document))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "policy"
        raise PolicyRefused(version, f"the central policy version {version} is not valid on this agent ({where}: "
                                     f"{first['msg']}; {exc.error_count()} problems in all): not applied, the "
                                     "policy in force stays") from None
