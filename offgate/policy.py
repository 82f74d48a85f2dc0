"""The policy: what offgate does about a call, from `[[policy.rules]]` in config.toml
(docs/governance.md). Matching is shared by every part that acts: the LiteLLM pre-call hook
(governance/), and later the interceptor and the native host, so it is small and lives here.

A rule matches a call when every field it names matches (a shell pattern, or a list of them,
compared case-insensitively); a field it leaves out matches anything, and a call that does not
know a field (no team, say) matches no rule naming it. Rules are read top to bottom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

Action = Literal["allow", "coach", "block", "require_approval"]
MATCH_FIELDS = ("app", "provider", "model", "user", "team", "device")
BudgetScope = Literal["user", "team"]

_RULES_HEADER = re.compile(r"^\s*\[\[\s*policy\s*\.\s*rules\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[")


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What is known of one call when a rule is matched; None is "not known"."""

    app: str | None = None
    provider: str | None = None
    model: str | None = None
    user: str | None = None
    team: str | None = None
    device: str | None = None


def _patterns(value: str | list[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not values or any(not item.strip() for item in values):
        raise ValueError("must be a non-empty pattern or list of patterns")
    return tuple(item.strip().lower() for item in values)


class PolicyRule(BaseModel):
    """One `[[policy.rules]]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="names the rule in refusals, notices and the audit")
    action: Action
    app: tuple[str, ...] | None = None
    provider: tuple[str, ...] | None = None
    model: tuple[str, ...] | None = None
    user: tuple[str, ...] | None = None
    team: tuple[str, ...] | None = None
    device: tuple[str, ...] | None = None
    message: str | None = Field(default=None, description="coach/block: what the person is told")
    alternative_url: str | None = Field(default=None, description="coach/block: the sanctioned tool's address")
    max_cost_per_request: float | None = Field(
        default=None, gt=0, description="require_approval: only calls whose estimated cost (USD) passes this")
    monthly_budget_usd: float | None = Field(
        default=None, gt=0, description="require_approval: only once the month's managed + unmanaged spend reaches it")
    budget_for: BudgetScope = Field(default="user", description="whose spend counts against monthly_budget_usd")

    @field_validator(*MATCH_FIELDS, mode="before")
    @classmethod
    def _as_patterns(cls, value: str | list[str] | None) -> tuple[str, ...] | None:
        return _patterns(value)

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> PolicyRule:
        limits = self.max_cost_per_request is not None or self.monthly_budget_usd is not None
        if limits and self.action != "require_approval":
            raise ValueError(f"max_cost_per_request and monthly_budget_usd are for require_approval, not {self.action}")
        if self.action == "coach" and not self.message:
            raise ValueError("a coach rule needs a message")
        if self.alternative_url is not None and not re.match(r"^https?://[^/?#\s]+", self.alternative_url):
            raise ValueError("alternative_url must be an http:// or https:// URL")
        if self.budget_for == "team" and self.monthly_budget_usd is None:
            raise ValueError('budget_for = "team" needs monthly_budget_usd')
        return self

    def matches(self, call: CallFacts) -> bool:
        for name in MATCH_FIELDS:
            patterns: tuple[str, ...] | None = getattr(self, name)
            if patterns is None:
                continue
            value: str | None = getattr(call, name)
            if value is None or not any(fnmatchcase(value.lower(), pattern) for pattern in patterns):
                return False
        return True

    def describe_match(self) -> str:
        """What the rule matches, as a person would say it."""
        named = [f"{name} {' or '.join(getattr(self, name))}" for name in MATCH_FIELDS if getattr(self, name)]
        return ", ".join(named) or "every call"


class PolicySettings(BaseModel):
    """The `[policy]` section: the rules, who approves, the teams, and how the gateway's hook behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[PolicyRule, ...] = ()
    approvers: tuple[str, ...] = Field(default=(), description="who may approve or deny; empty: anyone")
    teams: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="team -> its members, for calls whose team the gateway does not know")
    refresh_s: float = Field(default=30.0, gt=0, description="how often the hook re-reads spend and approvals")
    stale_after_s: float = Field(default=300.0, gt=0, description="the hook's table is stale after this long")
    fail_open: bool = Field(default=True, description="with a stale table, let calls through (and log it)")
    enforce_block: bool = Field(
        default=False, description="let the interceptor refuse direct calls under a block rule (off: they are coached)")
    # member (lower-case) -> their first team: the hook asks for every call, among thousands of people
    _team_of_member: dict[str, str] = PrivateAttr(default_factory=dict[str, str])

    def model_post_init(self, context: object, /) -> None:
        for team, members in self.teams.items():
            for member in members:
                self._team_of_member.setdefault(member.lower(), team)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[PolicyRule, ...]) -> tuple[PolicyRule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}: names identify rules in approvals")
            seen.add(rule.name)
        return rules

    def may_decide(self, name: str) -> bool:
        """Whether `name` may approve or deny requests: one of the approvers (any case), or anyone when none are set."""
        return not self.approvers or name.lower() in (approver.lower() for approver in self.approvers)

    def refusal_to_decide(self, name: str) -> str | None:
        """Why `name` may not approve or deny requests, or None when they may."""
        if self.may_decide(name):
            return None
        return f"{name} is not among the policy's approvers ({', '.join(self.approvers)})"

    def team_of(self, user: str | None) -> str | None:
        """The first team listing `user` (case-insensitive), or None."""
        return None if user is None else self._team_of_member.get(user.lower())

    def deciding_rule(self, call: CallFacts) -> PolicyRule | None:
        """The rule a workstation acts on: the first allow, coach or block rule that matches."""
        return next((rule for rule in self.workstation_rules() if rule.matches(call)), None)

    def workstation_rules(self) -> list[PolicyRule]:
        """The allow, coach and block rules, in order: what a workstation decides by."""
        return [rule for rule in self.rules if rule.action != "require_approval"]

    def gateway_rules(self, call: CallFacts) -> list[PolicyRule]:
        """The require_approval rules the gateway checks for a call: those that match, above the
        first matching allow rule."""
        found: list[PolicyRule] = []
        for rule in self.rules:
            if not rule.matches(call):
                continue
            if rule.action == "allow":
                break
            if rule.action == "require_approval":
                found.append(rule)
        return found


def policy_document(policy: PolicySettings) -> str:
    """The settings `policy` was given (not the defaults it fell back on), as JSON: the central
    policy is kept so, because what it leaves out stays each workstation's own (with_central)."""
    return policy.model_dump_json(exclude_unset=True)


def with_central(local: PolicySettings, document: str | None) -> PolicySettings:
    """The policy in force on an enrolled workstation: each `[policy]` setting the central
    policy sets (its rules, teams, enforce_block, ...) replaces the local one; what it leaves
    out stays local. No central policy (None): the local one. ValidationError if `document`
    is not a valid policy."""
    if document is None:
        return local
    central = PolicySettings.model_validate_json(document)
    chosen = {name: getattr(central if name in central.model_fields_set else local, name)
              for name in PolicySettings.model_fields}
    return PolicySettings.model_validate(chosen)


def rule_lines(toml_text: str) -> list[int]:
    """The line (1-based) of each `[[policy.rules]]` header, in order: rule n starts on the
    nth. tomllib keeps no positions, so the headers are found in the text; rules written as an
    inline array (`rules = [...]`) have none, and errors about them name the rule's index."""
    return [number for number, line in enumerate(toml_text.splitlines(), 1) if _RULES_HEADER.match(line)]


def key_line(toml_text: str, rule_index: int, key: str) -> int | None:
    """The line of `key` inside rule `rule_index`'s table, else that table's header line."""
    headers = rule_lines(toml_text)
    if rule_index >= len(headers):
        return None
    lines = toml_text.splitlines()
    start = headers[rule_index]
    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        if _TABLE_HEADER.match(line):
            break
        if re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
    return start
