"""On a workstation: the exchange of an enrolment token for this device's credential, and
the file that keeps it (`<home>/fleet-credential.json`, readable by its owner only).

The file is written whole or not at all (offgate.secret_file: a private temporary file,
synced, then renamed over the old one), so a crash never leaves half a credential and no
other user can read it at any moment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from fleet.transport import TransportError, client, collector_url, refusal, unreachable
from fleet.wire import ENROLL_PATH, EnrollRequest, EnrollResponse
from offgate import secret_file
from offgate.errors import OffgateError

CREDENTIAL_FILE = "fleet-credential.json"


class EnrolmentError(OffgateError):
    """Enrolment failed, or the credential file is unusable; the message says why."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Enrolment(BaseModel):
    """What the agent needs to push: where, as which device, with which credential."""

    model_config = ConfigDict(extra="forbid")

    collector: str
    device_id: str
    device_name: str
    credential: str
    ca_file: str | None = None
    allow_plain_http: bool = False
    enrolled_at: datetime

    @property
    def ca_path(self) -> Path | None:
        return Path(self.ca_file) if self.ca_file else None


def credential_path(home: Path) -> Path:
    return home / CREDENTIAL_FILE


def load_enrolment(home: Path) -> Enrolment | None:
    """This home's enrolment, or None when it is not enrolled."""
    path = credential_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EnrolmentError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return Enrolment.model_validate_json(text)
    except ValidationError:
        raise EnrolmentError(f"{path} is damaged: run `offgate enroll` again") from None


def save_enrolment(home: Path, enrolment: Enrolment) -> Path:
    path = credential_path(home)
    try:
        secret_file.replace(path, (enrolment.model_dump_json(indent=1) + "\n").encode())
    except OSError as exc:
        raise EnrolmentError(f"cannot write {path}: {exc.strerror}") from None
    return path


def enroll(url: str, token: str, device_name: str, owner: str | None, agent_version: str,
           ca_file: Path | None = None, allow_plain_http: bool = False) -> Enrolment:
    """Trade `token` for a credential at the collector `url`."""
    try:
        base = collector_url(url, allow_plain_http)
        request = EnrollRequest(token=token, device_name=device_name, owner=owner, agent_version=agent_version)
        with client(ca_file) as http:
            response = http.post(base + ENROLL_PATH, content=request.model_dump_json(),
                                 headers={"Content-Type": "application/json"})
    except TransportError as exc:
        raise EnrolmentError(str(exc)) from None
    except ValidationError as exc:
        raise EnrolmentError(f"cannot enrol: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None
    except httpx.HTTPError as exc:
        raise EnrolmentError(unreachable(url, exc)) from None
    if response.status_code != 201:
        code, message = refusal(response)
        raise EnrolmentError(f"the collector refused the enrolment ({code}): {message}", code)
    try:
        answer = EnrollResponse.model_validate_json(response.content)
    except ValidationError:
        raise EnrolmentError(f"{base} answered, but not as an offgate collector does") from None
    return Enrolment(collector=base, device_id=answer.device_id, device_name=answer.device_name,
                     credential=answer.credential, ca_file=str(ca_file.absolute()) if ca_file else None,
                     allow_plain_http=allow_plain_http, enrolled_at=datetime.now(UTC))
