"""Who is who: the people mapping (offgate.store.people) read from a CSV file or from
LiteLLM's user and team lists.

The CSV has a header row and the columns `login`, `device` (optional: empty or absent, the
mapping holds on every device), `litellm_user_id` and `team` (either may be empty).

From LiteLLM (`GET /user/list`, page by page, and `GET /team/list`, with an admin key): a
user's login is the part of their email before "@", or their user id when they have no
email; their team is the first of their teams, named by its alias (else its id).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx

from offgate.errors import BadInputError, OffgateError
from offgate.store.people import Person

CSV_COLUMNS = ("login", "device", "litellm_user_id", "team")
REQUIRED_COLUMNS = ("login", "litellm_user_id", "team")
USER_PAGE_SIZE = 100  # /user/list's largest page
TIMEOUT_S = 60.0


class PeopleSourceError(OffgateError):
    """LiteLLM could not be read, or answered what it never answers."""


def people_from_csv(path: Path) -> list[Person]:
    """The mappings in a CSV file; BadInputError naming the line of the first bad one."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            columns = reader.fieldnames or []
            unknown = [name for name in columns if name not in CSV_COLUMNS]
            missing = [name for name in REQUIRED_COLUMNS if name not in columns]
            if unknown or missing:
                raise BadInputError(f"{path}: the columns must be {', '.join(CSV_COLUMNS)} (device optional); "
                                    + "; ".join(part for part in (_listed("unknown", unknown),
                                                                  _listed("missing", missing)) if part))
            return [_csv_person(path, reader.line_num, row) for row in reader]
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(f"{path} is not a UTF-8 CSV file: {exc}") from None


def people_from_litellm(base_url: str, key: str | None) -> list[Person]:
    """Every LiteLLM user as a Person (see the module's docstring for login and team)."""
    if not key:
        raise BadInputError("LiteLLM's user list needs an admin key: pass --key or set LITELLM_MASTER_KEY")
    base_url = base_url.rstrip("/")
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT_S) as client:
        teams = {team["team_id"]: team.get("team_alias") or team["team_id"]
                 for team in _teams(client, base_url)}
        return [_litellm_person(user, teams) for user in _users(client, base_url)]


def _csv_person(path: Path, line: int, row: dict[str, str | None]) -> Person:
    if None in row:  # DictReader keeps a row's extra cells under the key None
        raise BadInputError(f"{path}, line {line}: more cells than columns")
    login = (row.get("login") or "").strip()
    if not login:
        raise BadInputError(f"{path}, line {line}: no login")
    return Person(login=login, device=_blank_is_none(row.get("device")),
                  litellm_user_id=_blank_is_none(row.get("litellm_user_id")), team=_blank_is_none(row.get("team")))


def _litellm_person(user: dict[str, Any], teams: dict[str, str]) -> Person:
    user_id, email = user.get("user_id"), user.get("user_email")
    if not isinstance(user_id, str) or not user_id:
        raise PeopleSourceError(f"LiteLLM's /user/list gave a user without a user_id: {sorted(user)}")
    login = email.split("@", 1)[0] if isinstance(email, str) and "@" in email else user_id
    member_of = [team for team in user.get("teams") or [] if isinstance(team, str)]
    team = teams.get(member_of[0], member_of[0]) if member_of else None
    return Person(login=login, litellm_user_id=user_id, team=team)


def _users(client: httpx.Client, base_url: str) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        body = _get(client, base_url, "/user/list", {"page": page, "page_size": USER_PAGE_SIZE})
        if not isinstance(body, dict) or not isinstance(body.get("users"), list):
            raise PeopleSourceError(f"LiteLLM at {base_url}: /user/list did not answer with a page of users")
        users.extend(user for user in body["users"] if isinstance(user, dict))
        pages = int(body.get("total_pages") or 1)
        page += 1
    return users


def _teams(client: httpx.Client, base_url: str) -> list[dict[str, Any]]:
    body = _get(client, base_url, "/team/list", {})
    if not isinstance(body, list) or not all(isinstance(team, dict) and team.get("team_id") for team in body):
        raise PeopleSourceError(f"LiteLLM at {base_url}: /team/list did not answer with a list of teams")
    return body


def _get(client: httpx.Client, base_url: str, path: str, params: dict[str, Any]) -> Any:
    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise PeopleSourceError(f"cannot reach LiteLLM at {base_url}: {exc}") from None
    if response.status_code in (401, 403):
        raise BadInputError(f"LiteLLM at {base_url} refused the key for {path} ({response.status_code}): "
                            "it takes an admin key")
    if response.status_code != 200:
        raise PeopleSourceError(f"LiteLLM at {base_url} answered {response.status_code} to {path}")
    try:
        return response.json()
    except ValueError:
        raise PeopleSourceError(f"LiteLLM at {base_url} answered {path} with something that is not JSON") from None


def _blank_is_none(value: str | None) -> str | None:
    return (value or "").strip() or None


def _listed(what: str, names: list[str]) -> str:
    return f"{what}: {', '.join(names)}" if names else ""
